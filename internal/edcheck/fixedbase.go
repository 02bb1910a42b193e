package edcheck

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"sync"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// Live chunks are all signed by one key, so verification computes
// [S]B − [k]A from tables of multiples of both B and A, with no doublings
// at all, instead of a double-and-add over both scalars. It checks the same
// equation as crypto/ed25519 (cofactorless: the encoding of [S]B − [k]A
// must equal R byte for byte, S canonical), so it accepts and rejects
// exactly the signatures that crypto/ed25519.Verify does.

// combWindowBits is the width of a scalar's signed digits: each table row
// holds 1..2^(w-1) times 2^(w·row) times its point.
const (
	combWindowBits = 6
	combRows       = (254 + combWindowBits - 1) / combWindowBits
	combCols       = 1 << (combWindowBits - 1)
)

// niels is a point in affine Niels form: (y+x, y−x, 2d·x·y).
type niels struct {
	yPlusX, yMinusX, xy2d field.Element
}

// combTable holds table[r][j] = (j+1)·2^(w·r)·P.
type combTable [combRows][combCols]niels

var (
	curveD2 = func() *field.Element {
		// d = −121665/121666
		var num, den, d field.Element
		num.Mult32(new(field.Element).One(), 121665)
		num.Negate(&num)
		den.Mult32(new(field.Element).One(), 121666)
		den.Invert(&den)
		d.Multiply(&num, &den)
		return d.Add(&d, &d)
	}()

	baseTableOnce sync.Once
	baseTable     *combTable
)

func newCombTable(p *edwards25519.Point) *combTable {
	pts := make([]edwards25519.Point, combRows*combCols)
	row := new(edwards25519.Point).Set(p)
	for r := range combRows {
		pts[r*combCols].Set(row)
		for j := 1; j < combCols; j++ {
			pts[r*combCols+j].Add(&pts[r*combCols+j-1], row)
		}
		for range combWindowBits {
			row.Add(row, row)
		}
	}
	// to affine, with one inversion for all the Z (Montgomery's trick)
	zs := make([]field.Element, len(pts))
	prod := new(field.Element).One()
	for i := range pts {
		_, _, z, _ := pts[i].ExtendedCoordinates()
		zs[i].Set(prod)
		prod.Multiply(prod, z)
	}
	inv := new(field.Element).Invert(prod)
	t := new(combTable)
	for i := len(pts) - 1; i >= 0; i-- {
		x, y, z, _ := pts[i].ExtendedCoordinates()
		var zInv, ax, ay field.Element
		zInv.Multiply(inv, &zs[i])
		inv.Multiply(inv, z)
		ax.Multiply(x, &zInv)
		ay.Multiply(y, &zInv)
		n := &t[i/combCols][i%combCols]
		n.yPlusX.Add(&ay, &ax)
		n.yMinusX.Subtract(&ay, &ax)
		n.xy2d.Multiply(&ax, &ay)
		n.xy2d.Multiply(&n.xy2d, curveD2)
	}
	return t
}

func baseCombTable() *combTable {
	baseTableOnce.Do(func() { baseTable = newCombTable(edwards25519.NewGeneratorPoint()) })
	return baseTable
}

// signedDigits writes s (little-endian, below 2^254) as combRows digits in
// [−2^(w−1), 2^(w−1)] with s = Σ d[r]·2^(w·r).
func signedDigits(s []byte, d *[combRows]int8) {
	var words [5]uint64
	for i := range 4 {
		words[i] = binary.LittleEndian.Uint64(s[8*i:])
	}
	const mask = 1<<combWindowBits - 1
	carry := uint64(0)
	for r := range combRows {
		bit := r * combWindowBits
		w := words[bit/64] >> (bit % 64)
		if bit%64 != 0 {
			w |= words[bit/64+1] << (64 - bit%64)
		}
		v := int(w&mask + carry)
		carry = 0
		if v > combCols {
			v -= 1 << combWindowBits
			carry = 1
		}
		d[r] = int8(v)
	}
}

// extended is a point in extended coordinates: x = X/Z, y = Y/Z, xy = T/Z.
type extended struct {
	X, Y, Z, T field.Element
}

// addNiels sets p = p + q (or p − q when neg); 7 multiplications.
func (p *extended) addNiels(q *niels, neg bool) {
	var ypx, ymx, pp, mm, tt, z2, x1, y1, z1, t1 field.Element
	ypx.Add(&p.Y, &p.X)
	ymx.Subtract(&p.Y, &p.X)
	if neg {
		pp.Multiply(&ypx, &q.yMinusX)
		mm.Multiply(&ymx, &q.yPlusX)
	} else {
		pp.Multiply(&ypx, &q.yPlusX)
		mm.Multiply(&ymx, &q.yMinusX)
	}
	tt.Multiply(&p.T, &q.xy2d)
	z2.Add(&p.Z, &p.Z)
	x1.Subtract(&pp, &mm)
	y1.Add(&pp, &mm)
	if neg {
		z1.Subtract(&z2, &tt)
		t1.Add(&z2, &tt)
	} else {
		z1.Add(&z2, &tt)
		t1.Subtract(&z2, &tt)
	}
	p.X.Multiply(&x1, &t1)
	p.Y.Multiply(&y1, &z1)
	p.Z.Multiply(&z1, &t1)
	p.T.Multiply(&x1, &y1)
}

// addComb adds (or, when neg, subtracts) s·P to p, with t P's table.
func (p *extended) addComb(t *combTable, s []byte, neg bool) {
	var d [combRows]int8
	signedDigits(s, &d)
	for r, v := range d {
		switch {
		case v > 0:
			p.addNiels(&t[r][v-1], neg)
		case v < 0:
			p.addNiels(&t[r][-v-1], !neg)
		}
	}
}

// fixedKey verifies signatures under one public key.
type fixedKey struct {
	pub  [32]byte
	ok   bool // pub decodes to a point
	once sync.Once
	t    *combTable
}

func newFixedKey(pub []byte) *fixedKey {
	k := &fixedKey{}
	copy(k.pub[:], pub)
	_, err := new(edwards25519.Point).SetBytes(pub)
	k.ok = err == nil
	return k
}

func (k *fixedKey) table() *combTable {
	k.once.Do(func() {
		a, _ := new(edwards25519.Point).SetBytes(k.pub[:])
		k.t = newCombTable(a)
	})
	return k.t
}

// verify reports whether sig is a valid Ed25519 signature of msg under k,
// as crypto/ed25519.Verify would.
func (k *fixedKey) verify(msg []byte, sig *[64]byte) bool {
	if !k.ok || sig[63]&224 != 0 {
		return false
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(k.pub[:])
	h.Write(msg)
	var digest [sha512.Size]byte
	kk, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		return false
	}
	// R' = [S]B − [k]A
	var p extended
	p.Y.One()
	p.Z.One()
	p.addComb(baseCombTable(), s.Bytes(), false)
	p.addComb(k.table(), kk.Bytes(), true)
	r, err := new(edwards25519.Point).SetExtendedCoordinates(&p.X, &p.Y, &p.Z, &p.T)
	if err != nil {
		return false
	}
	return bytes.Equal(sig[:32], r.Bytes())
}
