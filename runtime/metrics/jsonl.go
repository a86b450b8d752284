package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// JSONLWriter appends Records to a JSON Lines file. It is safe for
// concurrent use.
type JSONLWriter struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// OpenJSONL opens path for writing Records. With appendMode it keeps what
// the file holds (creating it if needed) and writes after it; a final line
// without its newline, the trace of a crash in the middle of a write, is
// cut off first so that the new records start on a line of their own.
// Without appendMode it truncates the file.
func OpenJSONL(path string, appendMode bool) (*JSONLWriter, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendMode {
		flags = os.O_RDWR | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if appendMode {
		if err := cutPartialLine(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("metrics %s: %w", path, err)
		}
	}
	return &JSONLWriter{f: f, path: path}, nil
}

// cutPartialLine truncates f after its last newline if it does not end in
// one.
func cutPartialLine(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	end := fi.Size()
	buf := make([]byte, 4096)
	for pos := end; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		b := buf[:n]
		if _, err := f.ReadAt(b, pos); err != nil {
			return err
		}
		i := bytes.LastIndexByte(b, '\n')
		if pos+n == end && i == len(b)-1 {
			return nil // ends with a newline
		}
		if i >= 0 {
			return f.Truncate(pos + int64(i) + 1)
		}
	}
	return f.Truncate(0) // one unterminated line
}

// Write appends rec as one line. The line goes to the file in a single
// write, so a crash after Write returns loses nothing.
func (w *JSONLWriter) Write(rec Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("metrics %s: %w", w.path, err)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("metrics %s: write after Close", w.path)
	}
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Close syncs the file to disk and closes it. Closing twice is harmless.
func (w *JSONLWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// maxLine bounds one line of a metrics file.
const maxLine = 16 << 20

// ReadJSONL reads the Records of a JSON Lines file, skipping blank lines.
// A line that is not a Record is an error naming the file and the line
// number.
func ReadJSONL(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer f.Close()
	recs, err := readJSONL(f, path)
	if err != nil {
		return nil, err
	}
	return recs, nil
}

func readJSONL(r io.Reader, path string) ([]Record, error) {
	var recs []Record
	br := bufio.NewReader(r)
	for line := 1; ; line++ {
		b, err := readLine(br)
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		terminated := len(b) > 0 && b[len(b)-1] == '\n'
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			if !terminated {
				err = fmt.Errorf("%w (the last line has no newline: a write cut short?)", err)
			}
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		recs = append(recs, rec)
	}
}

// readLine reads one line including its newline; io.EOF only when there is
// nothing left.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		b, err := br.ReadSlice('\n')
		line = append(line, b...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) > 0:
			return line, nil
		default:
			return nil, err
		}
	}
}
