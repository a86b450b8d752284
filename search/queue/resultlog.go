package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// AppendResult appends r to the results file at path (results.jsonl) as one
// JSON line and syncs the file to disk before it returns, so a result is
// durable before it is acked. If the file ends in a partial line, left by a
// crash in the middle of an append, that line is cut off first: its result
// was never acked and will be delivered again.
func AppendResult(path string, r Result) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("queue: append result: %w", err)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("queue: append result %s: %w", r.JobID, err)
	}
	line = append(line, '\n')
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("queue: append result: %w", err)
	}
	end, err := completeEnd(f)
	if err == nil {
		_, err = f.WriteAt(line, end)
	}
	if err == nil {
		err = f.Truncate(end + int64(len(line)))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("queue: append result %s to %s: %w", r.JobID, path, err)
	}
	return nil
}

// completeEnd is the offset just past the file's last newline (0 if none).
func completeEnd(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	buf := make([]byte, 4096)
	for end := size; end > 0; {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

// ReadResults reads the results file at path. A missing file holds no
// results. A malformed line is an error naming the line. A last line
// without its newline is what a crash in the middle of an append leaves
// behind; its result was never acked, so it is skipped with a warning on log
// (nil discards it), and the next AppendResult cuts it off.
func ReadResults(path string, log *slog.Logger) ([]Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue: read results: %w", err)
	}
	var out []Result
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if !complete {
			log.Warn("ignoring partial last line of results file", "path", path, "line", n, "bytes", len(line))
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r, err := DecodeResult(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, r)
	}
	return out, nil
}
