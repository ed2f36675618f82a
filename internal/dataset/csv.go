package dataset

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// scanCSV reads a CSV file whose first record is the header. Every record
// must have as many fields as the header; an empty field is a missing value.
func scanCSV(ctx context.Context, _ *os.File, r io.Reader, t *table) error {
	lim := &lineLimiter{r: r, line: 1}
	cr := csv.NewReader(lim)
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		return nil // an empty file: no columns, no rows
	}
	if err != nil {
		return csvError(lim, err)
	}
	if len(header) > maxColumns {
		return fmt.Errorf("the CSV header has %d columns; at most %d are supported", len(header), maxColumns)
	}
	// Spreadsheet exports often start with a UTF-8 byte order mark.
	header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	for _, name := range header {
		if _, err := t.addColumn(name, ""); err != nil {
			return err
		}
	}
	// Fail before reading the data if a declared column is absent.
	if err := t.checkDeclared(); err != nil {
		return err
	}

	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvError(lim, err)
		}
		if err := t.nextRow(ctx); err != nil {
			return err
		}
		for i, v := range rec {
			if v == "" {
				continue
			}
			if err := t.value(i, v); err != nil {
				return err
			}
		}
	}
}

func csvError(lim *lineLimiter, err error) error {
	if lim.err != nil {
		return lim.err
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("malformed CSV: %w", pe)
	}
	return fmt.Errorf("reading near line %d: %w", lim.line, err)
}

// lineLimiter fails a read once a line exceeds maxLineBytes, so a file
// without newlines cannot make a reader buffer it whole. It also counts lines
// for error messages.
type lineLimiter struct {
	r    io.Reader
	line int64 // 1-based number of the line being read
	cur  int   // bytes of that line seen so far
	err  error
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	b := p[:n]
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.cur += len(b)
			break
		}
		if l.cur+i > maxLineBytes {
			l.cur += i
			break
		}
		l.line++
		l.cur = 0
		b = b[i+1:]
	}
	if l.cur > maxLineBytes {
		l.err = fmt.Errorf("line %d is longer than %d MiB", l.line, maxLineBytes>>20)
		return 0, l.err
	}
	return n, err
}
