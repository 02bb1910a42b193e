package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Range is the half-open interval [Start, End) of chunk indexes, fragment
// indexes or packet numbers. It is encoded as uvarint Start followed by
// uvarint End-Start.
type Range struct{ Start, End uint64 }

// Len returns the number of values in r.
func (r Range) Len() uint64 { return r.End - r.Start }

// Contains reports whether x is in r.
func (r Range) Contains(x uint64) bool { return r.Start <= x && x < r.End }

var errRangeOrder = errors.New("ranges must be non-empty, ascending and non-overlapping")

// CheckRanges reports whether rs is a list Parse accepts: at most MaxRanges
// non-empty ranges, ascending and non-overlapping (adjacent is allowed).
func CheckRanges(rs []Range) error {
	if len(rs) > MaxRanges {
		return fmt.Errorf("wire: %d ranges, at most %d: %w", len(rs), MaxRanges, ErrTooLarge)
	}
	for i, r := range rs {
		if r.End <= r.Start || (i > 0 && r.Start < rs[i-1].End) {
			return fmt.Errorf("wire: range %d [%d,%d): %w: %w", i, r.Start, r.End, errRangeOrder, ErrMalformed)
		}
	}
	return nil
}

// rangesLen returns the encoded size of a range list: its count, then each
// range's start and length.
func rangesLen(rs []Range) int {
	n := uvarintLen(uint64(len(rs)))
	for _, r := range rs {
		n += uvarintLen(r.Start) + uvarintLen(r.End-r.Start)
	}
	return n
}

func appendRanges(b []byte, rs []Range) []byte {
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		b = binary.AppendUvarint(b, r.Start)
		b = binary.AppendUvarint(b, r.End-r.Start)
	}
	return b
}

// readRanges reads a range list into dst[:0] and checks its order and
// limits.
func readRanges(r *reader, dst []Range) ([]Range, errKind, bool) {
	dst = dst[:0]
	count := r.uvarint()
	if r.bad {
		return dst, kMalformed, false
	}
	if count > MaxRanges {
		return dst, kTooLarge, false
	}
	var prevEnd uint64
	for i := 0; i < int(count); i++ {
		start := r.uvarint()
		length := r.uvarint()
		if r.bad || length == 0 || start > math.MaxUint64-length || (i > 0 && start < prevEnd) {
			return dst, kMalformed, false
		}
		prevEnd = start + length
		dst = append(dst, Range{Start: start, End: prevEnd})
	}
	return dst, 0, true
}

// Have, Cancel and Reject share a body that is one range list.

func appendRangeFrame(b []byte, t Type, rs []Range) []byte {
	b = appendFrameHeader(b, t, rangesLen(rs))
	return appendRanges(b, rs)
}

func parseRangeFrame(b []byte, t Type, dst []Range) ([]Range, int, error) {
	body, n, err := openFrame(b, t)
	if err != nil {
		return dst[:0], 0, err
	}
	r := reader{b: body}
	dst, k, ok := readRanges(&r, dst)
	if ok {
		k, ok = r.done()
	}
	if !ok {
		return dst, 0, frameErr(t, k)
	}
	return dst, n, nil
}
