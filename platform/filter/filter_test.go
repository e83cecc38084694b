package filter

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"convene.dev/platform/errdefs"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want []Term
	}{
		{"", nil},
		{"   ", nil},
		{"kind = WORKSHOP", []Term{{Field: "kind", Op: OpEq, Value: "WORKSHOP", Pos: 0}}},
		{`kind = WORKSHOP AND start_time >= "2020-01-01T00:00:00Z" AND "labor migration"`, []Term{
			{Field: "kind", Op: OpEq, Value: "WORKSHOP", Pos: 0},
			{Field: "start_time", Op: OpGe, Value: "2020-01-01T00:00:00Z", Pos: 20},
			{Op: OpHas, Value: "labor migration", Pos: 61},
		}},
		{"location.country_code!=MX", []Term{{Field: "location.country_code", Op: OpNe, Value: "MX"}}},
		{`start_time<2021-01-01T00:00:00Z`, []Term{{Field: "start_time", Op: OpLt, Value: "2021-01-01T00:00:00Z"}}},
		{`migración`, []Term{{Op: OpHas, Value: "migración"}}},
		{`"say \"hi\" \\ there"`, []Term{{Op: OpHas, Value: `say "hi" \ there`}}},
		{`topics = "labor migration"`, []Term{{Field: "topics", Op: OpEq, Value: "labor migration"}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q) error: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, mention string }{
		{"kind =", "expected a value"},
		{"kind = = x", "expected a value"},
		{"AND kind = X", "got AND"},
		{"kind = X AND", "after AND"},
		{"kind = X state = Y", `expected AND before "state"`},
		{`"unterminated`, "unterminated"},
		{"kind ! X", `"!" must be followed`},
		{"= X", "before"},
		{"kind = X OR state = Y", `expected AND before "OR"`},
		{"1abc = X", "not a field name"},
		{"kind = (X)", "unexpected character"},
		{"\xff", "UTF-8"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Parse(%q) error = %v, want INVALID_ARGUMENT", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("Parse(%q) error = %q, want it to mention %q", tt.in, err, tt.mention)
		}
	}
}

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"Migración  Laboral": "migracion laboral",
		"SAN JOSÉ":           "san jose",
		"Ñandú":              "nandu",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"kind = WORKSHOP", `a = "b" AND "c"`, `x != y AND z >= "2020"`, `"\"`, "AND", "!="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		terms, err := Parse(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("Parse(%q) error %v is not INVALID_ARGUMENT", s, err)
			}
			return
		}
		// What parses renders back to something that parses the same.
		var parts []string
		for _, term := range terms {
			parts = append(parts, term.String())
		}
		again, err := Parse(strings.Join(parts, " AND "))
		if err != nil || len(again) != len(terms) {
			t.Fatalf("Parse(%q) = %v; rendered %q reparses to %v, %v", s, terms, strings.Join(parts, " AND "), again, err)
		}
	})
}
