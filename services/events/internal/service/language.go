package service

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc/metadata"

	eventsv1 "convene.dev/gen/convene/events/v1"
)

// acceptedLanguages returns the languages a caller asked for, best first:
// the request's language field, else the Accept-Language header, which the
// gateway forwards as metadata (and gRPC callers may send as such).
func acceptedLanguages(ctx context.Context, requested string) []string {
	if requested != "" {
		return []string{requested}
	}
	for _, key := range []string{"accept-language", "grpcgateway-accept-language"} {
		if v := metadata.ValueFromIncomingContext(ctx, key); len(v) > 0 {
			return parseAcceptLanguage(strings.Join(v, ","))
		}
	}
	return nil
}

// parseAcceptLanguage reads an Accept-Language value ("es-MX,es;q=0.9,en;q=0.8")
// into primary language codes, best first; q=0 means "not this one".
func parseAcceptLanguage(s string) []string {
	type choice struct {
		lang string
		q    float64
	}
	var choices []choice
	for _, part := range strings.Split(s, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if primary == "" || primary == "*" || q <= 0 {
			continue
		}
		choices = append(choices, choice{primary, q})
	}
	sort.SliceStable(choices, func(i, j int) bool { return choices[i].q > choices[j].q })
	var out []string
	for _, c := range choices {
		if !slices.Contains(out, c.lang) {
			out = append(out, c.lang)
		}
	}
	return out
}

// defaultLanguage is the language of an event's main text fields.
func defaultLanguage(ev *eventsv1.Event) string {
	if l := ev.GetDefaultLanguage(); l != "" {
		return l
	}
	return "en"
}

// localize sets ev's text fields in the first wanted language the event has
// (its default language otherwise) and says which, in ev.language. A field
// the translation leaves empty keeps the default text.
func localize(ev *eventsv1.Event, wanted []string) {
	translate(ev, chooseLanguage(ev, wanted))
}

// chooseLanguage returns the first wanted language that ev is written in:
// its default language, or one it has a translation into. Without any,
// the default language.
func chooseLanguage(ev *eventsv1.Event, wanted []string) string {
	lang := defaultLanguage(ev)
	for _, w := range wanted {
		if w == lang {
			break
		}
		if _, ok := ev.GetTranslations()[w]; ok {
			return w
		}
	}
	return lang
}

// translate sets ev's text fields in lang, one chooseLanguage returned.
func translate(ev *eventsv1.Event, lang string) {
	if tr, ok := ev.GetTranslations()[lang]; ok && lang != defaultLanguage(ev) {
		pick(&ev.Title, tr.GetTitle())
		pick(&ev.Summary, tr.GetSummary())
		pick(&ev.GeneralObjective, tr.GetGeneralObjective())
		pick(&ev.Methodology, tr.GetMethodology())
		pick(&ev.ExpectedParticipants, tr.GetExpectedParticipants())
		if len(tr.GetSpecificObjectives()) > 0 {
			ev.SpecificObjectives = slices.Clone(tr.GetSpecificObjectives())
		}
	}
	ev.Language = lang
}

func pick(dst *string, translated string) {
	if translated != "" {
		*dst = translated
	}
}
