// Package dataset reads local dataset files (CSV, JSON Lines, Parquet),
// validates them against a declared schema and profiles their columns.
//
// A column's type is the declared one when the schema names it; otherwise
// parquet columns take their physical/logical type, and CSV/JSONL columns are
// inferred: integer if every non-missing value parses as int64, number if as a
// finite float64, boolean if true/false (any case), else string. Timestamps
// (RFC 3339 or YYYY-MM-DD) are only ever declared, never inferred. A column
// with no values at all is a string column.
//
// Missing values are empty CSV fields, absent or null JSON keys, parquet
// nulls, and NaN/infinite parquet floats.
package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
)

// Limits that keep a hostile or broken file from exhausting memory.
const (
	maxColumns   = 10_000
	maxLineBytes = 16 << 20
	// ctxCheckRows is how often (in rows) a scan looks at ctx: often enough to
	// stop promptly, rarely enough to cost nothing.
	ctxCheckRows = 4096
)

// Column types, as in api.Column.Type.
const (
	typeString    = "string"
	typeInteger   = "integer"
	typeNumber    = "number"
	typeBoolean   = "boolean"
	typeTimestamp = "timestamp"
)

// LocalPath returns the filesystem path of a local URI: "file:///abs/path",
// "file://localhost/abs" or an absolute path "/abs". ok=false for other
// schemes (s3://, gs://, http://...).
//
// Percent-escapes in file URIs are decoded; '?' and '#' are kept as part of
// the path because people write file URIs by hand and rarely escape them.
func LocalPath(uri string) (path string, ok bool) {
	if strings.HasPrefix(uri, "/") {
		return uri, true
	}
	scheme, rest, found := strings.Cut(uri, ":")
	if !found || !strings.EqualFold(scheme, "file") {
		return "", false
	}
	if after, isAuth := strings.CutPrefix(rest, "//"); isAuth {
		host, p, hasPath := strings.Cut(after, "/")
		if !hasPath || (host != "" && !strings.EqualFold(host, "localhost")) {
			return "", false
		}
		rest = "/" + p
	}
	if !strings.HasPrefix(rest, "/") { // file:relative is not a path we can trust
		return "", false
	}
	if unescaped, err := url.PathUnescape(rest); err == nil {
		rest = unescaped
	}
	return rest, true
}

// Result is what Inspect learns about a dataset file.
type Result struct {
	Digest    string // "sha256:<hex>" of the file's bytes
	SizeBytes int64
	RowCount  int64               // data rows (CSV header excluded)
	Columns   []api.ColumnProfile // in file column order
}

// SchemaError is a content/schema mismatch: it names the column and the first
// bad row (1-based data row; 0 when the column is missing entirely).
type SchemaError struct {
	Column  string
	Row     int64
	Value   string
	Message string
}

func (e *SchemaError) Error() string {
	if e.Row == 0 {
		return fmt.Sprintf("column %q: %s", e.Column, e.Message)
	}
	return fmt.Sprintf("column %q: row %d: value %q %s", e.Column, e.Row, e.Value, e.Message)
}

// maxErrorValue bounds SchemaError.Value: a bad value can be a 16 MiB line.
const maxErrorValue = 100

func newSchemaError(column string, row int64, value, msg string) *SchemaError {
	if len(value) > maxErrorValue {
		cut := maxErrorValue
		for cut > 0 && !utf8.RuneStart(value[cut]) {
			cut--
		}
		value = value[:cut] + "…"
	}
	return &SchemaError{Column: column, Row: row, Value: value, Message: msg}
}

// scanFunc streams one file format into t. It must read r to the end on
// success so that the digest covers every byte.
type scanFunc func(ctx context.Context, f *os.File, r io.Reader, t *table) error

// Inspect reads the dataset at path in the given format ("csv", "jsonl",
// "parquet"), validates it against schema (may be nil) and profiles it.
func Inspect(ctx context.Context, path, format string, schema []api.Column) (*Result, error) {
	t, digest, size, err := read(ctx, path, format, schema)
	if err != nil {
		return nil, err
	}
	res := &Result{Digest: digest, SizeBytes: size, RowCount: t.rows}
	res.Columns = make([]api.ColumnProfile, len(t.cols))
	for i, c := range t.cols {
		res.Columns[i] = c.profile(t.rows)
	}
	return res, nil
}

// Values is one column's content: numbers for numeric columns, counts per
// value for the others.
type Values struct {
	Name string
	// Type is the column's type (declared or inferred); see the package doc.
	Type    string
	Numeric bool
	// Numbers holds the non-missing values of a numeric column, in file order.
	Numbers []float64
	// Counts holds how often each non-missing value of a categorical column
	// occurs; booleans are counted as "true" and "false".
	Counts  map[string]int64
	Missing int64
}

// Columns reads the dataset at path like Inspect and returns every column's
// values, as drift statistics need them, with the file's digest and rows.
func Columns(ctx context.Context, path, format string, schema []api.Column) (cols []Values, digest string, rows int64, err error) {
	t, digest, _, err := read(ctx, path, format, schema)
	if err != nil {
		return nil, "", 0, err
	}
	cols = make([]Values, len(t.cols))
	for i, c := range t.cols {
		typ := c.finalType()
		v := Values{Name: c.name, Type: typ, Missing: t.rows - c.count}
		switch typ {
		case typeInteger, typeNumber:
			v.Numeric, v.Numbers = true, c.nums
		case typeBoolean:
			v.Counts = canonicalBools(c.cats)
		default:
			v.Counts = c.cats
		}
		cols[i] = v
	}
	return cols, digest, t.rows, nil
}

// read scans, validates and (when needed) rescans a dataset file.
func read(ctx context.Context, path, format string, schema []api.Column) (*table, string, int64, error) {
	var scan scanFunc
	switch strings.ToLower(format) {
	case "csv":
		scan = scanCSV
	case "jsonl":
		scan = scanJSONL
	case "parquet":
		scan = scanParquet
	default:
		return nil, "", 0, fmt.Errorf("unsupported dataset format %q (want csv, jsonl or parquet)", format)
	}
	declared, err := checkSchema(schema)
	if err != nil {
		return nil, "", 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, "", 0, err
	}

	t := newTable(schema, declared, nil)
	digest, size, err := scanFile(ctx, path, scan, t)
	if err != nil {
		return nil, "", 0, err
	}
	if err := t.checkDeclared(); err != nil {
		return nil, "", 0, err
	}

	// Columns inferred numeric until a non-numeric value showed up have no
	// counts for their early values; a second pass counts them rather than
	// holding every value's text in memory on the first.
	if rescan := t.rescanColumns(); len(rescan) > 0 {
		t2 := newTable(nil, nil, rescan)
		digest2, _, err := scanFile(ctx, path, scan, t2)
		if err != nil {
			return nil, "", 0, err
		}
		if digest2 != digest || t2.rows != t.rows {
			return nil, "", 0, errors.New("the file changed while it was being read")
		}
		for _, c := range t.cols {
			if c.rescan {
				c.cats = t2.cols[t2.index[c.name]].cats
			}
		}
	}
	return t, digest, size, nil
}

// scanFile opens path, runs scan over it and returns the digest and size of
// the bytes read.
func scanFile(ctx context.Context, path string, scan scanFunc, t *table) (digest string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	// A FIFO or device would be read forever (or block); only files have a
	// well-defined content to digest.
	if st, err := f.Stat(); err != nil {
		return "", 0, err
	} else if !st.Mode().IsRegular() {
		return "", 0, fmt.Errorf("%s is not a regular file", path)
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(f, h)}
	if err := scan(ctx, f, cr, t); err != nil {
		return "", 0, err
	}
	// Readers stop at EOF already; this guards the digest against one that
	// did not.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return "", 0, err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), cr.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func checkSchema(schema []api.Column) (map[string]string, error) {
	if len(schema) == 0 {
		return nil, nil
	}
	declared := make(map[string]string, len(schema))
	for _, c := range schema {
		switch c.Type {
		case typeString, typeInteger, typeNumber, typeBoolean, typeTimestamp:
		default:
			return nil, fmt.Errorf("schema column %q: unknown type %q (want string, integer, number, boolean or timestamp)", c.Name, c.Type)
		}
		if _, dup := declared[c.Name]; dup {
			return nil, fmt.Errorf("schema column %q is declared twice", c.Name)
		}
		declared[c.Name] = c.Type
	}
	return declared, nil
}

// table accumulates the columns of one scan.
type table struct {
	schema   []api.Column
	declared map[string]string // schema types by column name
	// only, when set, restricts a rescan to these columns, all counted as
	// strings; the rest are skipped.
	only  map[string]bool
	cols  []*column
	index map[string]int
	rows  int64
	// unprofilable explains columns the reader could not profile (parquet
	// lists), so a schema naming one gets a precise error.
	unprofilable map[string]string
}

func newTable(schema []api.Column, declared map[string]string, only map[string]bool) *table {
	return &table{schema: schema, declared: declared, only: only, index: map[string]int{}}
}

// addColumn adds a column that must not exist yet. natural is the type the
// file format itself gives the column ("" to infer it from the values).
func (t *table) addColumn(name, natural string) (int, error) {
	if _, dup := t.index[name]; dup {
		return 0, fmt.Errorf("column %q appears twice in the header", name)
	}
	return t.newColumn(name, natural)
}

// column returns the index of a column, adding it if it is new.
func (t *table) column(name string) (int, error) {
	if i, ok := t.index[name]; ok {
		return i, nil
	}
	return t.newColumn(name, "")
}

func (t *table) newColumn(name, natural string) (int, error) {
	if len(t.cols) >= maxColumns {
		return 0, fmt.Errorf("more than %d columns; that many are not supported", maxColumns)
	}
	c := &column{name: name, canInt: true, canNum: true, canBool: true}
	switch {
	case t.only != nil:
		if t.only[name] {
			c.typ = typeString
		} else {
			c.skip = true
		}
	case t.declared[name] != "":
		c.typ, c.declared = t.declared[name], true
	default:
		c.typ = natural
	}
	t.index[name] = len(t.cols)
	t.cols = append(t.cols, c)
	return len(t.cols) - 1, nil
}

// nextRow starts a new data row, honouring ctx every ctxCheckRows rows.
func (t *table) nextRow(ctx context.Context) error {
	t.rows++
	if t.rows%ctxCheckRows == 0 {
		return ctx.Err()
	}
	return nil
}

// value records a non-missing value of column i in the current row.
func (t *table) value(i int, v string) error {
	return t.cols[i].add(t.rows, v)
}

// checkDeclared reports the first schema column absent from the data.
func (t *table) checkDeclared() error {
	for _, c := range t.schema {
		if _, ok := t.index[c.Name]; ok {
			continue
		}
		msg := "declared in the schema but missing from the data"
		if why := t.unprofilable[c.Name]; why != "" {
			msg = "declared in the schema but " + why
		}
		return newSchemaError(c.Name, 0, "", msg)
	}
	return nil
}

func (t *table) rescanColumns() map[string]bool {
	var names map[string]bool
	for _, c := range t.cols {
		if c.rescan {
			if names == nil {
				names = map[string]bool{}
			}
			names[c.name] = true
		}
	}
	return names
}
