package country

import "testing"

func TestValid(t *testing.T) {
	for _, c := range append([]string{"AD", "ZW", "GB"}, RCMMembers...) {
		if !Valid(c) {
			t.Errorf("Valid(%q) = false, want true", c)
		}
	}
	for _, c := range []string{"", "X", "XX", "mx", "MEX", "D ", " D", "UK", "A", "E "} {
		if Valid(c) {
			t.Errorf("Valid(%q) = true, want false", c)
		}
	}
}
