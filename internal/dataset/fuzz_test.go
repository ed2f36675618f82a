package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzInspectCSV feeds arbitrary bytes to the CSV and JSONL readers: they may
// refuse the input but must not panic, and a profile they return must be
// self-consistent and encodable.
func FuzzInspectCSV(f *testing.F) {
	for _, seed := range []string{
		profileCSV, profileJSONL,
		"a,b\n1,2\n3\n",
		"x\n1e308\n-1e308\n",
		"x\n1\n2\nx\n",
		"x\ntrue\nFALSE\n\n",
		"x\n4.9e-324\n0\n",
		"\uFEFFa\n\"q\"\"\"\n",
		`{"a":1,"a":null}` + "\n" + `{"b":[1,{"c":2}]}`,
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{"csv", "jsonl"} {
			res, err := Inspect(context.Background(), path, format, nil)
			if err != nil {
				continue
			}
			if res.RowCount < 0 || res.SizeBytes != int64(len(data)) {
				t.Fatalf("%s: RowCount %d SizeBytes %d for %d bytes", format, res.RowCount, res.SizeBytes, len(data))
			}
			for _, c := range res.Columns {
				if c.Count < 0 || c.Missing < 0 || c.Count+c.Missing != res.RowCount {
					t.Fatalf("%s: column %q count %d missing %d for %d rows", format, c.Name, c.Count, c.Missing, res.RowCount)
				}
				if h := c.Histogram; h != nil {
					var sum int64
					for _, n := range h.Counts {
						sum += n
					}
					if sum != c.Count || len(h.Edges) != len(h.Counts)+1 {
						t.Fatalf("%s: column %q histogram %+v does not cover Count %d", format, c.Name, h, c.Count)
					}
				}
			}
			if _, err := json.Marshal(res.Columns); err != nil {
				t.Fatalf("%s: profile does not encode: %v", format, err)
			}
		}
	})
}

// FuzzJSONLine checks the hand-written object walker of the JSONL reader
// against encoding/json on the same line.
func FuzzJSONLine(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"b":"x","a":null}`,
		` { "k\"1" : "a}b" , "n" : { "x" : ["]", {}] } , "\u00e9":true } `,
		`{"":[],"e":-0.5e-3,"s":"\\\""}`,
		`[1]`, `{"a":}`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || bytes.ContainsAny(line, "\r\n") {
			return
		}
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(line, &want)

		tab := newTable(nil, nil, nil)
		var row jsonRow
		err := row.parse(line, tab)
		if (err != nil) != (wantErr != nil || want == nil) {
			t.Fatalf("parse error %v, encoding/json error %v (object %v)", err, wantErr, want != nil)
		}
		if err != nil {
			return
		}
		got := map[string]json.RawMessage{}
		for _, i := range row.order {
			name := tab.cols[i].name
			if !row.present[i] {
				got[name] = json.RawMessage("null")
				continue
			}
			got[name] = json.RawMessage(row.vals[i])
		}
		if len(got) != len(want) {
			t.Fatalf("keys %v, want %v", got, want)
		}
		for k, raw := range want {
			wantText, present, err := canonicalJSON(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !present {
				wantText = "null"
			}
			if string(got[k]) != wantText {
				t.Fatalf("key %q: %q, want %q", k, got[k], wantText)
			}
		}
	})
}

// canonicalJSON is jsonText written with encoding/json alone.
func canonicalJSON(raw json.RawMessage) (string, bool, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false, err
	}
	switch v := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return v, true, nil
	case map[string]any, []any:
		var buf bytes.Buffer
		err := json.Compact(&buf, raw)
		return buf.String(), true, err
	default:
		return string(bytes.TrimSpace(raw)), true, nil
	}
}
