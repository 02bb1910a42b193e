package wire

import (
	"bytes"
	"errors"
	"testing"
)

// fuzzFrame checks, for any input, that Parse never panics, that an error
// wraps a sentinel and consumes nothing, and that a success consumed n
// bytes which Append reproduces exactly and which re-parse to an equal
// message. Parsing into a struct that already holds the largest valid case
// must give the same result as parsing into a fresh one.
func fuzzFrame[T any, P interface {
	*T
	parser
}](f *testing.F, typ Type) {
	var primer []byte
	for _, tc := range validCases() {
		if tc.m.Type() != typ {
			continue
		}
		enc := tc.m.Append(nil)
		if len(enc) > len(primer) {
			primer = enc
		}
		f.Add(enc)
		f.Add(enc[:len(enc)-1])
		f.Add(append(bytes.Clone(enc), byte(TypeKeepalive), 0))
		f.Add(append(bytes.Clone(enc[:len(enc)-1]), 0xff))
	}
	f.Add([]byte{})
	f.Add([]byte{byte(typ), 0x80, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		var fresh P = new(T)
		n, err := fresh.Parse(in)

		var dirty P = new(T)
		if _, perr := dirty.Parse(primer); perr != nil {
			t.Fatalf("priming parse: %v", perr)
		}
		dn, derr := dirty.Parse(in)
		if dn != n || (derr == nil) != (err == nil) {
			t.Fatalf("reused struct: Parse = %d, %v; fresh = %d, %v", dn, derr, n, err)
		}

		if err != nil {
			if n != 0 {
				t.Fatalf("Parse failed (%v) but consumed %d bytes", err, n)
			}
			if !isSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if !equalMsg(fresh, dirty) {
			t.Fatalf("reused struct parsed %+v, fresh %+v", dirty, fresh)
		}
		if n <= 0 || n > len(in) {
			t.Fatalf("Parse consumed %d of %d bytes", n, len(in))
		}
		enc := fresh.Append(nil)
		if !bytes.Equal(enc, in[:n]) {
			t.Fatalf("re-encoding differs:\n  in %x\n out %x", in[:n], enc)
		}
		if fresh.Len() != n {
			t.Fatalf("Len() = %d, consumed %d", fresh.Len(), n)
		}
		var again P = new(T)
		n2, err := again.Parse(enc)
		if err != nil || n2 != n || !equalMsg(again, fresh) {
			t.Fatalf("re-parse = %+v, %d, %v; want %+v", again, n2, err, fresh)
		}
	})
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrShort, ErrType, ErrMalformed, ErrTooLarge, ErrVersion} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzHandshake(f *testing.F)        { fuzzFrame[Handshake](f, TypeHandshake) }
func FuzzHave(f *testing.F)             { fuzzFrame[Have](f, TypeHave) }
func FuzzBitfield(f *testing.F)         { fuzzFrame[Bitfield](f, TypeBitfield) }
func FuzzRequest(f *testing.F)          { fuzzFrame[Request](f, TypeRequest) }
func FuzzRequestFragments(f *testing.F) { fuzzFrame[RequestFragments](f, TypeRequestFragments) }
func FuzzCancel(f *testing.F)           { fuzzFrame[Cancel](f, TypeCancel) }
func FuzzData(f *testing.F)             { fuzzFrame[Data](f, TypeData) }
func FuzzAck(f *testing.F)              { fuzzFrame[Ack](f, TypeAck) }
func FuzzChoke(f *testing.F)            { fuzzFrame[Choke](f, TypeChoke) }
func FuzzUnchoke(f *testing.F)          { fuzzFrame[Unchoke](f, TypeUnchoke) }
func FuzzPex(f *testing.F)              { fuzzFrame[Pex](f, TypePex) }
func FuzzKeepalive(f *testing.F)        { fuzzFrame[Keepalive](f, TypeKeepalive) }
func FuzzReject(f *testing.F)           { fuzzFrame[Reject](f, TypeReject) }
func FuzzClose(f *testing.F)            { fuzzFrame[Close](f, TypeClose) }
func FuzzSigned(f *testing.F)           { fuzzFrame[Signed](f, TypeSigned) }
func FuzzProof(f *testing.F)            { fuzzFrame[Proof](f, TypeProof) }
func FuzzTree(f *testing.F)             { fuzzFrame[Tree](f, TypeTree) }
func FuzzKeyframe(f *testing.F)         { fuzzFrame[Keyframe](f, TypeKeyframe) }
func FuzzUnknown(f *testing.F)          { fuzzFrame[Unknown](f, 0x7f) }

func FuzzHeader(f *testing.F) {
	f.Add(AppendHeader(nil, Tag{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add(AppendHeader(nil, Tag{})[:HeaderLen-1])
	f.Add(append([]byte{2}, make([]byte, 8)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		tag, n, err := ParseHeader(in)
		if err != nil {
			if n != 0 || !isSentinel(err) {
				t.Fatalf("ParseHeader = %d, %v", n, err)
			}
			return
		}
		if n != HeaderLen {
			t.Fatalf("ParseHeader consumed %d", n)
		}
		if out := AppendHeader(nil, tag); !bytes.Equal(out, in[:n]) {
			t.Fatalf("re-encoding differs: %x vs %x", out, in[:n])
		}
	})
}

// FuzzDatagram walks whole datagrams the way the engine does (PeekType,
// then Parse or SkipFrame) and checks the walk agrees with ParseDatagram
// and that AppendDatagram reproduces an accepted datagram.
func FuzzDatagram(f *testing.F) {
	tag := Tag{7, 7, 7, 7, 7, 7, 7, 7}
	var msgs []Message
	for _, tc := range validCases() {
		msgs = append(msgs, tc.m)
		if len(msgs) == 3 {
			f.Add(AppendDatagram(nil, tag, msgs...))
			msgs = msgs[:0]
		}
	}
	f.Add(AppendDatagram(nil, tag, &Keepalive{}, &Data{Total: 3, Payload: []byte{1, 2, 3}}, &Ack{Ranges: []Range{{1, 2}}}))
	f.Fuzz(func(t *testing.T, in []byte) {
		gotTag, msgs, err := ParseDatagram(in)
		walkErr := walk(in)
		if (err == nil) != (walkErr == nil) {
			t.Fatalf("ParseDatagram = %v, walk = %v", err, walkErr)
		}
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if out := AppendDatagram(nil, gotTag, msgs...); !bytes.Equal(out, in) {
			t.Fatalf("re-encoding differs:\n  in %x\n out %x", in, out)
		}
	})
}

// walk parses a datagram with one reused struct per known type.
func walk(b []byte) error {
	var parsers [numTypes]parser
	for t := Type(1); t < numTypes; t++ {
		parsers[t] = newMessage(t)
	}
	_, off, err := ParseHeader(b)
	if err != nil {
		return err
	}
	if off == len(b) {
		return ErrMalformed
	}
	for off < len(b) {
		t, err := PeekType(b[off:])
		if err != nil {
			return err
		}
		var n int
		if t.Known() {
			n, err = parsers[t].Parse(b[off:])
		} else {
			n, err = SkipFrame(b[off:])
		}
		if err != nil {
			return err
		}
		off += n
	}
	return nil
}
