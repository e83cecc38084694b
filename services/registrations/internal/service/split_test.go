package service

import "testing"

// TestSplitName checks the parsing of registration names, which every
// create does on the committer's time (without allocating).
func TestSplitName(t *testing.T) {
	for _, c := range []struct{ name, event, id string }{
		{"events/rcm-2026/registrations/0001abcd", "rcm-2026", "0001abcd"},
		{"events/x/registrations/", "x", ""},
		{"events/x/registrations/a/b", "", ""},
		{"events/x/y/registrations/a", "", ""},
		{"events/x/registrationStats", "", ""},
		{"registrations/a", "", ""},
		{"", "", ""},
	} {
		if event, id := splitName(c.name); event != c.event || id != c.id {
			t.Errorf("splitName(%q) = %q, %q; want %q, %q", c.name, event, id, c.event, c.id)
		}
	}
	if n := testing.AllocsPerRun(100, func() { splitName("events/rcm-2026/registrations/0001abcd") }); n != 0 {
		t.Errorf("splitName allocates %.0f times", n)
	}
}
