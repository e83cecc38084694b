// Package ids makes resource ids: lowercase letters and digits, valid as the
// last segment of a resource name.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
)

// The alphabet is in ASCII order, so that fixed-length encodings sort like
// the bytes they encode.
var encoding = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)

// Random returns a random id of 16 characters (80 random bits).
func Random() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return encoding.EncodeToString(b)
}

// Ordered returns an id of 16 characters whose first 8 encode seq (below
// 2^40) and the rest 40 random bits: ids sort in the order of their
// sequence numbers, yet cannot be guessed from one another.
func Ordered(seq uint64) string {
	b := make([]byte, 10)
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	copy(b[:5], s[3:])
	_, _ = rand.Read(b[5:])
	return encoding.EncodeToString(b)
}

// Scramble is a bijection of the uint32s that looks random: 0, 1, 2, …
// become distinct numbers in no order (for test and benchmark data that
// must not repeat, such as e-mail addresses, yet arrive unsorted as real
// ones do). It is the "lowbias32" integer hash.
func Scramble(i uint32) uint32 {
	i ^= i >> 16
	i *= 0x7feb352d
	i ^= i >> 15
	i *= 0x846ca68b
	i ^= i >> 16
	return i
}
