package service

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/types/known/timestamppb"

	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// exportChunk is how many registrations go into one streamed chunk.
const exportChunk = 500

var exportHeader = []string{
	"name", "state", "state_reason", "category", "attendance_mode",
	"given_name", "family_name", "email", "phone", "organization", "job_title",
	"country_code", "gender", "preferred_language", "needs_visa_letter",
	"accessibility_needs", "check_in_time", "create_time", "update_time",
}

// ExportRegistrations implements RegistrationServiceServer: CSV in chunks
// of exportChunk rows, the first with the header row.
func (s *Service) ExportRegistrations(req *registrationsv1.ExportRegistrationsRequest, stream registrationsv1.RegistrationService_ExportRegistrationsServer) error {
	ctx := stream.Context()
	match, err := compileFilter(req.GetFilter(), delegationFilter(ctx))
	if err != nil {
		return err
	}
	eventID := strings.TrimPrefix(req.GetParent(), "events/")
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(exportHeader) // writes to a bytes.Buffer do not fail
	after := ""
	for {
		page, _, err := s.store.List(ctx, eventID, after, exportChunk, false, match)
		if err != nil {
			return err
		}
		for _, reg := range page {
			_ = w.Write(exportRow(reg))
		}
		w.Flush()
		if buf.Len() > 0 {
			if err := stream.Send(&httpbody.HttpBody{ContentType: "text/csv; charset=utf-8", Data: bytes.Clone(buf.Bytes())}); err != nil {
				return err
			}
			buf.Reset()
		}
		if len(page) < exportChunk {
			return nil
		}
		_, after = splitName(page[len(page)-1].GetName())
	}
}

func exportRow(r *registrationsv1.Registration) []string {
	p := r.GetParticipant()
	row := []string{
		r.GetName(), enumName(r.GetState().String(), "REGISTRATION_STATE_"), r.GetStateReason(),
		enumName(r.GetCategory().String(), "PARTICIPANT_CATEGORY_"), enumName(r.GetAttendanceMode().String(), "ATTENDANCE_MODE_"),
		p.GetGivenName(), p.GetFamilyName(), p.GetEmail(), p.GetPhone(), p.GetOrganization(), p.GetJobTitle(),
		p.GetCountryCode(), enumName(p.GetGender().String(), "GENDER_"), p.GetPreferredLanguage(),
		strconv.FormatBool(r.GetNeedsVisaLetter()), r.GetAccessibilityNeeds(),
		csvTime(r.GetCheckInTime()), csvTime(r.GetCreateTime()), csvTime(r.GetUpdateTime()),
	}
	for i, cell := range row {
		row[i] = neutralise(cell)
	}
	return row
}

func enumName(s, prefix string) string {
	s = strings.TrimPrefix(s, prefix)
	if s == "UNSPECIFIED" {
		return ""
	}
	return s
}

func csvTime(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

// neutralise keeps a spreadsheet from running a cell as a formula (CSV
// injection): a cell that starts with = + - @, a tab or a carriage return
// gets a leading apostrophe, which spreadsheets show as text.
func neutralise(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// BackupDatabase implements RegistrationServiceServer.
func (s *Service) BackupDatabase(_ *registrationsv1.BackupDatabaseRequest, stream registrationsv1.RegistrationService_BackupDatabaseServer) error {
	return s.store.Backup(stream.Context(), func(b []byte) error {
		return stream.Send(&registrationsv1.BackupChunk{Data: b})
	})
}
