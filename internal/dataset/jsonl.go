package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// scanJSONL reads one JSON object per line; blank lines are ignored. Columns
// are the union of the keys in order of first appearance; an absent key or a
// null is a missing value. Values are profiled by their text: a JSON string
// "12" and a number 12 are both the integer 12, and nested objects or arrays
// are compact JSON strings.
func scanJSONL(ctx context.Context, _ *os.File, r io.Reader, t *table) error {
	lim := &lineLimiter{r: r, line: 1}
	sc := bufio.NewScanner(lim)
	// The limiter rejects long lines first; the margin leaves room for \r\n.
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes+16)
	var row jsonRow
	var line int64
	for sc.Scan() {
		line++
		// On a read error the scanner still hands over the partial line it
		// holds; the limiter's error is the one that explains it.
		if lim.err != nil {
			return lim.err
		}
		b := sc.Bytes()
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\uFEFF")) // byte order mark
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		if err := t.nextRow(ctx); err != nil {
			return err
		}
		if err := row.parse(b, t); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := row.flush(t); err != nil {
			return err
		}
	}
	if lim.err != nil {
		return lim.err
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading line %d: %w", line+1, err)
	}
	return nil
}

// jsonRow holds one object's values by column index until the whole object
// has parsed, so that a repeated key keeps its last value (as encoding/json
// does) and a malformed line adds nothing.
type jsonRow struct {
	vals    []string
	present []bool
	gen     []int64 // row that last set each slot
	order   []int   // columns set in this row, in order
	row     int64
}

// parse reads one line holding a JSON object. The line is validated first
// with json.Valid (fast, no allocation); the object is then walked by hand,
// which may assume valid JSON. encoding/json's token API would keep key order
// too but allocates for every token, several times slower on large files.
func (r *jsonRow) parse(b []byte, t *table) error {
	r.row++
	r.order = r.order[:0]
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		if err == nil { // cannot happen: Valid and Unmarshal agree
			err = errors.New("syntax error")
		}
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if b[0] != '{' {
		return errors.New("not a JSON object")
	}
	i := skipSpace(b, 1)
	for b[i] != '}' {
		end := valueEnd(b, i)
		key, err := jsonString(b[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(b, skipSpace(b, end)+1) // past ':'
		end = valueEnd(b, i)
		v, present, err := jsonText(b[i:end])
		if err != nil {
			return err
		}
		col, err := t.column(key)
		if err != nil {
			return err
		}
		r.set(col, v, present)
		i = skipSpace(b, end)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just past the valid JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		for j := i + 1; ; j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch b[j] {
			case '"':
				j = valueEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
	default: // number, true, false, null
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return j
			}
			j++
		}
		return j
	}
}

// jsonString decodes a JSON string literal, without allocating twice in the
// common case of no escapes.
func jsonString(raw []byte) (string, error) {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func (r *jsonRow) set(i int, v string, present bool) {
	for len(r.vals) <= i {
		r.vals = append(r.vals, "")
		r.present = append(r.present, false)
		r.gen = append(r.gen, 0)
	}
	if r.gen[i] != r.row {
		r.gen[i] = r.row
		r.order = append(r.order, i)
	}
	r.vals[i], r.present[i] = v, present
}

func (r *jsonRow) flush(t *table) error {
	for _, i := range r.order {
		if r.present[i] {
			if err := t.value(i, r.vals[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonText returns the text a JSON value is profiled by; present is false
// for null.
func jsonText(raw []byte) (string, bool, error) {
	switch raw[0] {
	case 'n':
		return "", false, nil
	case '"':
		s, err := jsonString(raw)
		return s, true, err
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return "", false, err
		}
		return buf.String(), true, nil
	default: // numbers keep their exact text; true and false are themselves
		return string(raw), true, nil
	}
}
