package filter_test

import (
	"testing"

	"convene.dev/platform/filter"
)

// The filters of ListEvents as clients send them: one enum term (what
// `make bench` lists with), and a long one with every kind of term.
var benchFilters = []struct{ name, filter string }{
	{"enum", "kind = WORKSHOP"},
	{"mixed", `kind = WORKSHOP AND state != CANCELLED AND location.country_code = CR AND start_time >= "2026-01-01T00:00:00Z" AND "migración laboral"`},
}

func BenchmarkParse(b *testing.B) {
	for _, bf := range benchFilters {
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := filter.Parse(bf.filter); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFold folds a title, as ListEvents does for every event it
// compares by free text or orders by title.
func BenchmarkFold(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		filter.Fold("Taller de validación del estudio sobre Programas y Procesos de Regularización Migratoria")
	}
}
