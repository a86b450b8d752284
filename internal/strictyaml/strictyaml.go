// Package strictyaml decodes the YAML files cellc reads as configuration
// (network configs, training recipes) so that nothing in them is silently
// dropped: an unknown key is an error with its file and line and the
// nearest known key (or the list of keys), as the .cell diagnostics and
// the search-space files report them. yaml.v3 alone reports "line 3: field lrr not found in type
// runtime.Recipe", which names neither the file nor the key meant.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"cellc/lang"
)

// Decode decodes data, the contents of file name, over *v (fields the
// file leaves out keep their values). Unknown keys, wrong types and
// syntax errors are reported as "name:line: message", one line each; a
// second YAML document is an error too.
func Decode(name string, data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return rewrite(name, err, v)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: holds more than one YAML document", name)
	}
	return nil
}

var (
	notFoundRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	lineRE     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// rewrite turns yaml.v3's errors into positioned lines.
func rewrite(name string, err error, v any) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	keys := knownKeys(reflect.TypeOf(v))
	lines := make([]string, len(msgs))
	for i, m := range msgs {
		if g := notFoundRE.FindStringSubmatch(m); g != nil {
			lines[i] = fmt.Sprintf("%s:%s: unknown key %q", name, g[1], g[2])
			if s := lang.DidYouMean(g[2], keys[g[3]]); s != "" {
				lines[i] += "; " + s
			} else if len(keys[g[3]]) > 0 {
				lines[i] += " (keys: " + strings.Join(keys[g[3]], ", ") + ")"
			}
			continue
		}
		if g := lineRE.FindStringSubmatch(m); g != nil {
			lines[i] = fmt.Sprintf("%s:%s: %s", name, g[1], g[2])
			continue
		}
		lines[i] = fmt.Sprintf("%s: %s", name, strings.TrimPrefix(m, "yaml: "))
	}
	return errors.New(strings.Join(lines, "\n"))
}

// knownKeys maps each struct type reachable from t (by its Go name, as
// yaml.v3 prints it) to the keys it accepts.
func knownKeys(t reflect.Type) map[string][]string {
	keys := map[string][]string{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		if _, seen := keys[t.String()]; seen {
			return
		}
		keys[t.String()] = nil
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			switch tag {
			case "-":
				continue
			case "":
				tag = strings.ToLower(f.Name)
			}
			keys[t.String()] = append(keys[t.String()], tag)
			walk(f.Type)
		}
	}
	walk(t)
	return keys
}
