package service_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "convene.dev/gen/convene/events/v1"
	registrationsv1 "convene.dev/gen/convene/registrations/v1"
	"convene.dev/services/registrations/internal/store"
)

// exportHeader is the CSV header row: the export's contract with the
// spreadsheets that read it.
var exportHeader = []string{
	"name", "state", "state_reason", "category", "attendance_mode",
	"given_name", "family_name", "email", "phone", "organization", "job_title",
	"country_code", "gender", "preferred_language", "needs_visa_letter",
	"accessibility_needs", "check_in_time", "create_time", "update_time",
}

// export reads a whole export stream and returns its chunks, or the error
// that ended it.
func (e *env) export(t *testing.T, req *registrationsv1.ExportRegistrationsRequest) ([]*httpbody.HttpBody, error) {
	t.Helper()
	stream, err := e.client.ExportRegistrations(ctx, req)
	if err != nil {
		return nil, err
	}
	var chunks []*httpbody.HttpBody
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return chunks, nil
		}
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, chunk)
	}
}

// exportRows reads an export and parses it: each chunk must hold whole
// rows, and only the first has the header row, which is returned apart.
func (e *env) exportRows(t *testing.T, req *registrationsv1.ExportRegistrationsRequest) (header []string, rows [][]string, chunks int) {
	t.Helper()
	got, err := e.export(t, req)
	if err != nil {
		t.Fatalf("ExportRegistrations(%v): %v", req, err)
	}
	var all bytes.Buffer
	for i, c := range got {
		if ct := c.GetContentType(); ct != "text/csv; charset=utf-8" {
			t.Errorf("chunk %d: content_type = %q, want text/csv; charset=utf-8", i, ct)
		}
		if _, err := csv.NewReader(bytes.NewReader(c.GetData())).ReadAll(); err != nil {
			t.Errorf("chunk %d does not hold whole CSV rows: %v", i, err)
		}
		all.Write(c.GetData())
	}
	r := csv.NewReader(&all)
	r.FieldsPerRecord = len(exportHeader)
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parse the export: %v", err)
	}
	if len(records) == 0 {
		t.Fatal("empty export: want at least the header row")
	}
	return records[0], records[1:], len(got)
}

func column(rows [][]string, i int) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r[i])
	}
	return out
}

func TestExport(t *testing.T) {
	e := newEnv(t) // events/export: hybrid, no limits

	// Cells a spreadsheet would run as formulas, first through the API…
	formulas := []string{`=HYPERLINK("x")`, "+1", "-2", "@x"}
	for i, f := range formulas {
		r := participant(fmt.Sprintf("f%d@example.org", i))
		r.Participant.GivenName = f
		e.create(t, "events/export", r)
	}
	odd := participant("odd@example.org")
	odd.Participant.FamilyName, odd.Participant.Organization, odd.Participant.JobTitle = "-Smith", "+Org", "@Lead"
	odd.AccessibilityNeeds, odd.Participant.Phone = "\twheelchair", "+502 5555 0000"
	odd.NeedsVisaLetter, odd.Participant.PreferredLanguage = true, "es"
	e.clock.Add(time.Minute)
	oddReg := e.create(t, "events/export", as(odd, "GT", observer, virtual))

	// …then more than one chunk's worth straight into the store, which is
	// quicker than 500 calls.
	const bulk = 520
	err := e.store.Update(ctx, "export", func(tx store.Tx) error {
		for i := range bulk {
			name, err := tx.NewName()
			if err != nil {
				return err
			}
			r := as(participant(fmt.Sprintf("bulk%d@example.org", i)), []string{"MX", "GT", "HN"}[i%3], delegate, inPerson)
			r.Name, r.State = name, confirmed
			r.CreateTime, r.UpdateTime = timestamppb.New(t0), timestamppb.New(t0)
			if _, err := tx.Insert(r, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	last := e.create(t, "events/export", as(participant("last@example.org"), "GT", delegate, inPerson))
	e.clock.Add(time.Hour)
	checkedIn, err := e.client.CheckInRegistration(ctx, &registrationsv1.CheckInRegistrationRequest{Name: last.GetName()})
	if err != nil {
		t.Fatal(err)
	}

	listed, _ := e.list(t, &registrationsv1.ListRegistrationsRequest{Parent: "events/export", PageSize: 100})
	if len(listed) != len(formulas)+1+bulk+1 {
		t.Fatalf("%d registrations listed, want %d", len(listed), len(formulas)+1+bulk+1)
	}

	t.Run("everything", func(t *testing.T) {
		header, rows, chunks := e.exportRows(t, &registrationsv1.ExportRegistrationsRequest{Parent: "events/export"})
		if !slices.Equal(header, exportHeader) {
			t.Errorf("header = %v, want %v", header, exportHeader)
		}
		if chunks < 2 {
			t.Errorf("%d chunks, want more than one for %d rows", chunks, len(rows))
		}
		if got, want := column(rows, 0), namesOf(listed); !slices.Equal(got, want) {
			t.Errorf("rows name %d registrations, want all %d in arrival order", len(got), len(want))
		}
		for i, f := range formulas {
			if got, want := rows[i][5], "'"+f; got != want {
				t.Errorf("given_name %q exported as %q, want %q", f, got, want)
			}
		}
		wantOdd := []string{
			oddReg.GetName(), "CONFIRMED", "", "OBSERVER_COUNTRY", "VIRTUAL",
			"Ana", "'-Smith", "odd@example.org", "'+502 5555 0000", "'+Org", "'@Lead",
			"GT", "FEMALE", "es", "true",
			"'\twheelchair", "", "2026-03-01T12:01:00Z", "2026-03-01T12:01:00Z",
		}
		if got := rows[len(formulas)]; !slices.Equal(got, wantOdd) {
			t.Errorf("row =\n%q\nwant\n%q", got, wantOdd)
		}
		wantLast := []string{
			checkedIn.GetName(), "CONFIRMED", "", "MEMBER_COUNTRY_DELEGATE", "IN_PERSON",
			"Ana", "Pérez", "last@example.org", "", "Instituto Nacional de Migración", "",
			"GT", "FEMALE", "", "false",
			"", "2026-03-01T13:01:00Z", "2026-03-01T12:01:00Z", "2026-03-01T13:01:00Z",
		}
		if got := rows[len(rows)-1]; !slices.Equal(got, wantLast) {
			t.Errorf("last row =\n%q\nwant\n%q", got, wantLast)
		}
	})

	t.Run("filter", func(t *testing.T) {
		const filter = "participant.country_code = GT AND category = MEMBER_COUNTRY_DELEGATE"
		header, rows, _ := e.exportRows(t, &registrationsv1.ExportRegistrationsRequest{Parent: "events/export", Filter: filter})
		if !slices.Equal(header, exportHeader) {
			t.Errorf("header = %v, want %v", header, exportHeader)
		}
		want, _ := e.list(t, &registrationsv1.ListRegistrationsRequest{Parent: "events/export", Filter: filter, PageSize: 100})
		if got := column(rows, 0); !slices.Equal(got, namesOf(want)) || len(got) != bulk/3+1 {
			t.Errorf("%d rows, want the %d GT delegates (%d) in arrival order", len(got), len(want), bulk/3+1)
		}
		for _, r := range rows {
			if r[11] != "GT" || r[3] != "MEMBER_COUNTRY_DELEGATE" {
				t.Errorf("row %s: country %s, category %s; want GT delegates only", r[0], r[11], r[3])
			}
		}
	})

	t.Run("nothing to export", func(t *testing.T) {
		for _, req := range []*registrationsv1.ExportRegistrationsRequest{
			{Parent: "events/export", Filter: "state = REJECTED"},
			{Parent: "events/open"},
		} {
			header, rows, _ := e.exportRows(t, req)
			if !slices.Equal(header, exportHeader) || len(rows) != 0 {
				t.Errorf("export of %v = header %v and %d rows, want the header only", req, header, len(rows))
			}
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		_, err := e.export(t, &registrationsv1.ExportRegistrationsRequest{Parent: "events/export", Filter: "colour = red"})
		assertInvalid(t, err, "filter")
		_, err = e.export(t, &registrationsv1.ExportRegistrationsRequest{Parent: "events/Export!"})
		assertInvalid(t, err, "parent")
		_, err = e.export(t, &registrationsv1.ExportRegistrationsRequest{Parent: "events/export", Filter: "state = NOPE"})
		assertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT")
	})
}

// TestExportChunkBoundary exports exactly one chunk's worth of rows, then one
// more: no row is lost or repeated at the edge.
func TestExportChunkBoundary(t *testing.T) {
	e := newEnv(t)
	add := func(n int) {
		t.Helper()
		err := e.store.Update(ctx, "export", func(tx store.Tx) error {
			for range n {
				name, err := tx.NewName()
				if err != nil {
					return err
				}
				r := participant(name[len(name)-16:] + "@example.org")
				r.Name, r.State, r.AttendanceMode = name, confirmed, eventsv1.AttendanceMode_ATTENDANCE_MODE_IN_PERSON
				if _, err := tx.Insert(r, ""); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{500, 1} {
		add(n)
		_, rows, _ := e.exportRows(t, &registrationsv1.ExportRegistrationsRequest{Parent: "events/export"})
		listed, _ := e.list(t, &registrationsv1.ListRegistrationsRequest{Parent: "events/export", PageSize: 100})
		if got := column(rows, 0); !slices.Equal(got, namesOf(listed)) {
			t.Errorf("%d rows, want the %d registrations in arrival order", len(got), len(listed))
		}
	}
}
