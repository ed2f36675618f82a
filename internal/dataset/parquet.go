package dataset

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// parquetLeaf says how to profile one leaf column of a parquet file.
type parquetLeaf struct {
	col  int // table column; -1 when the leaf is not profiled
	text func(parquet.Value) (string, bool)
}

// scanParquet profiles the top-level and nested (non-repeated) leaf columns of
// a parquet file; a nested leaf is named by its dotted path. Repeated leaves
// (lists, maps) have no single value per row and are left out.
//
// Parquet needs random access, so the digest is a separate sequential pass
// over r before the file itself is read through f.
func scanParquet(ctx context.Context, f *os.File, r io.Reader, t *table) (err error) {
	size, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	// parquet-go panics on some malformed metadata; a bad upload must not
	// take the server down.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed parquet file: %v", p)
		}
	}()
	pf, err := parquet.OpenFile(f, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return fmt.Errorf("malformed parquet file: %w", err)
	}
	schema := pf.Schema()
	paths := schema.Columns()
	if len(paths) > maxColumns {
		return fmt.Errorf("the parquet file has %d columns; at most %d are supported", len(paths), maxColumns)
	}
	leaves := make([]parquetLeaf, len(paths))
	for i, path := range paths {
		name := strings.Join(path, ".")
		leaf, ok := schema.Lookup(path...)
		if !ok || leaf.MaxRepetitionLevel > 0 {
			leaves[i].col = -1
			if t.unprofilable == nil {
				t.unprofilable = map[string]string{}
			}
			t.unprofilable[name] = "is a repeated (list or map) parquet column, which cannot be profiled"
			continue
		}
		natural, text := parquetType(leaf.Node.Type())
		col, err := t.addColumn(name, natural)
		if err != nil {
			return err
		}
		leaves[i] = parquetLeaf{col: col, text: text}
	}
	if err := t.checkDeclared(); err != nil {
		return err
	}

	buf := make([]parquet.Row, 128)
	for g, rg := range pf.RowGroups() {
		if err := scanRowGroup(ctx, rg, buf, leaves, t); err != nil {
			var se *SchemaError
			if errors.As(err, &se) || ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("reading parquet row group %d: %w", g, err)
		}
	}
	return nil
}

func scanRowGroup(ctx context.Context, rg parquet.RowGroup, buf []parquet.Row, leaves []parquetLeaf, t *table) error {
	rows := rg.Rows()
	defer rows.Close()
	for {
		n, err := rows.ReadRows(buf)
		for _, row := range buf[:n] {
			if err := t.nextRow(ctx); err != nil {
				return err
			}
			for _, v := range row {
				c := v.Column()
				if c < 0 || c >= len(leaves) || leaves[c].col < 0 || v.IsNull() {
					continue
				}
				s, ok := leaves[c].text(v)
				if !ok {
					continue
				}
				if err := t.value(leaves[c].col, s); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parquetType maps a parquet leaf type to the column type it profiles as and
// to the text of its values. ok=false from the text func marks a missing
// value: NaN and infinite floats count as missing, as pandas and Arrow treat
// them, because no statistic can use them.
func parquetType(typ parquet.Type) (string, func(parquet.Value) (string, bool)) {
	var lt format.LogicalTypeValue
	if l := typ.LogicalType(); l != nil {
		lt = l.Value
	}
	switch lt := lt.(type) {
	case *format.DecimalType:
		scale := int(lt.Scale)
		return typeNumber, func(v parquet.Value) (string, bool) {
			var digits string
			switch v.Kind() {
			case parquet.Int32:
				digits = strconv.FormatInt(int64(v.Int32()), 10)
			case parquet.Int64:
				digits = strconv.FormatInt(v.Int64(), 10)
			default:
				digits = twosComplement(v.ByteArray()).String()
			}
			return decimalText(digits, scale), true
		}
	case *format.DateType:
		return typeTimestamp, func(v parquet.Value) (string, bool) {
			return time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly), true
		}
	case *format.TimestampType:
		unit := lt.Unit.Value.Duration()
		return typeTimestamp, func(v parquet.Value) (string, bool) {
			return unixTime(v.Int64(), unit).Format(time.RFC3339Nano), true
		}
	case *format.TimeType:
		unit := lt.Unit.Value.Duration()
		return typeString, func(v parquet.Value) (string, bool) {
			n := v.Int64()
			if v.Kind() == parquet.Int32 {
				n = int64(v.Int32())
			}
			return time.Time{}.Add(time.Duration(n) * unit).Format("15:04:05.999999999"), true
		}
	case *format.IntType:
		if !lt.IsSigned {
			// uint64 may not fit int64: infer integer or number from the values.
			natural := typeInteger
			if lt.BitWidth == 64 {
				natural = ""
			}
			return natural, func(v parquet.Value) (string, bool) {
				if v.Kind() == parquet.Int32 {
					return strconv.FormatUint(uint64(uint32(v.Int32())), 10), true
				}
				return strconv.FormatUint(v.Uint64(), 10), true
			}
		}
	case *format.UUIDType:
		return typeString, func(v parquet.Value) (string, bool) {
			b := v.ByteArray()
			if len(b) != 16 {
				return hex.EncodeToString(b), true
			}
			h := hex.EncodeToString(b)
			return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
		}
	case *format.Float16Type:
		return typeNumber, func(v parquet.Value) (string, bool) {
			b := v.ByteArray()
			if len(b) != 2 {
				return "", false
			}
			return finiteText(float64(halfToFloat(binary.LittleEndian.Uint16(b))), 32)
		}
	}

	switch typ.Kind() {
	case parquet.Boolean:
		return typeBoolean, func(v parquet.Value) (string, bool) {
			return strconv.FormatBool(v.Boolean()), true
		}
	case parquet.Int32:
		return typeInteger, func(v parquet.Value) (string, bool) {
			return strconv.FormatInt(int64(v.Int32()), 10), true
		}
	case parquet.Int64:
		return typeInteger, func(v parquet.Value) (string, bool) {
			return strconv.FormatInt(v.Int64(), 10), true
		}
	case parquet.Int96:
		// INT96 is the legacy Impala/Spark timestamp: nanoseconds of the day
		// in the low 8 bytes, Julian day number in the high 4.
		return typeTimestamp, func(v parquet.Value) (string, bool) {
			i := v.Int96()
			nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
			days := int64(i[2]) - 2440588 // Julian day of 1970-01-01
			return time.Unix(days*86400, nanos).UTC().Format(time.RFC3339Nano), true
		}
	case parquet.Float:
		return typeNumber, func(v parquet.Value) (string, bool) {
			return finiteText(float64(v.Float()), 32)
		}
	case parquet.Double:
		return typeNumber, func(v parquet.Value) (string, bool) {
			return finiteText(v.Double(), 64)
		}
	case parquet.FixedLenByteArray:
		if lt == nil { // opaque bytes: hex keeps them printable
			return typeString, func(v parquet.Value) (string, bool) {
				return hex.EncodeToString(v.ByteArray()), true
			}
		}
	}
	// Strings, enums, JSON and unannotated byte arrays (often strings from
	// older writers).
	return typeString, func(v parquet.Value) (string, bool) {
		return string(v.ByteArray()), true
	}
}

func finiteText(f float64, bits int) (string, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false
	}
	return strconv.FormatFloat(f, 'g', -1, bits), true
}

// unixTime converts n units since the epoch without overflowing time.Duration.
func unixTime(n int64, unit time.Duration) time.Time {
	per := int64(time.Second / unit)
	sec, rem := n/per, n%per
	if rem < 0 {
		sec, rem = sec-1, rem+per
	}
	return time.Unix(sec, rem*int64(unit)).UTC()
}

// twosComplement reads a big-endian two's-complement integer (the encoding of
// byte-array decimals).
func twosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return n
}

// decimalText places the decimal point scale digits from the right of an
// unscaled integer's digits: ("-12345", 2) is "-123.45".
func decimalText(digits string, scale int) string {
	if scale <= 0 {
		return digits + strings.Repeat("0", -scale)
	}
	sign := ""
	if strings.HasPrefix(digits, "-") {
		sign, digits = "-", digits[1:]
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

// halfToFloat decodes an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch exp {
	case 0: // zero or subnormal: frac * 2^-24
		f := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	case 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
