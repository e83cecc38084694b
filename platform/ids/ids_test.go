package ids

import (
	"regexp"
	"testing"
)

var valid = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func TestOrderedSorts(t *testing.T) {
	prev := ""
	for _, seq := range []uint64{0, 1, 2, 31, 32, 255, 256, 1 << 20, 1<<40 - 1} {
		id := Ordered(seq)
		if !valid.MatchString(id) || len(id) != 16 {
			t.Fatalf("Ordered(%d) = %q, not a valid id", seq, id)
		}
		if id <= prev {
			t.Errorf("Ordered(%d) = %q sorts before %q", seq, id, prev)
		}
		prev = id
	}
}

func TestRandom(t *testing.T) {
	a, b := Random(), Random()
	if a == b || !valid.MatchString(a) || len(a) != 16 {
		t.Errorf("Random() = %q, %q", a, b)
	}
}

func TestScrambleIsABijection(t *testing.T) {
	seen := make(map[uint32]bool, 1<<16)
	inOrder := 0
	for i := range uint32(1 << 16) {
		h := Scramble(i)
		if seen[h] {
			t.Fatalf("Scramble(%d) = %d repeats", i, h)
		}
		seen[h] = true
		if i > 0 && h > Scramble(i-1) {
			inOrder++
		}
	}
	if inOrder < 1<<14 || inOrder > 3<<14 {
		t.Errorf("%d of %d neighbours ascend: not scrambled", inOrder, 1<<16)
	}
}
