// Package filter parses the small filter language of Convene's list methods,
// a subset of AIP-160:
//
//	filter     = term { "AND" term }
//	term       = field op value | value
//	field      = name { "." name }            e.g. location.country_code
//	op         = "=" | "!=" | "<" | "<=" | ">" | ">="
//	value      = word | quoted
//	word       = a run of letters, digits and _ - : . + (e.g. WORKSHOP, MX, 2020-01-01T00:00:00Z)
//	quoted     = '"' { any character but '"', or \" or \\ } '"'
//
// A term that is a value alone is a free-text search. "AND" is written in
// capitals (lower case "and" is read as a word of free text, as in AIP-160).
// What a field means, which operators it accepts and what values are valid is
// decided by each list method, not here; this package only gives the syntax
// tree, with the position of each term for error messages.
package filter

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"convene.dev/platform/errdefs"
)

// Op is a comparison operator.
type Op string

// The operators.
const (
	OpEq  Op = "="
	OpNe  Op = "!="
	OpLt  Op = "<"
	OpLe  Op = "<="
	OpGt  Op = ">"
	OpGe  Op = ">="
	OpHas Op = "" // free text: no field, no operator
)

// Term is one condition.
type Term struct {
	Field string // empty for free text
	Op    Op
	Value string // unquoted
	Pos   int    // byte offset of the term in the filter, for errors
}

// String renders the term as it could be written.
func (t Term) String() string {
	v := t.Value
	if v == "" || v == "AND" || strings.IndexFunc(v, func(r rune) bool { return !isWordRune(r) }) >= 0 {
		v = `"` + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `"`, `\"`) + `"`
	}
	if t.Field == "" {
		return v
	}
	return fmt.Sprintf("%s %s %s", t.Field, t.Op, v)
}

// Parse parses a filter. The empty filter has no terms. A syntax error is an
// INVALID_ARGUMENT error on the field "filter" that quotes the offending part.
func Parse(s string) ([]Term, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	var terms []Term
	for i := 0; i < len(toks); {
		if len(terms) > 0 {
			if toks[i].kind != tokAnd {
				return nil, syntaxErr(toks[i].pos, "expected AND before %q", toks[i].text)
			}
			i++
			if i == len(toks) {
				return nil, syntaxErr(len(s), "expected a condition after AND")
			}
		}
		t := toks[i]
		switch {
		case t.kind == tokAnd:
			return nil, syntaxErr(t.pos, "expected a condition, got AND")
		case t.kind == tokOp:
			return nil, syntaxErr(t.pos, "expected a field or a value before %q", t.text)
		case i+1 < len(toks) && toks[i+1].kind == tokOp:
			if t.kind != tokWord || !isFieldName(t.text) {
				return nil, syntaxErr(t.pos, "%s is not a field name", quote(t))
			}
			if i+2 >= len(toks) || (toks[i+2].kind != tokWord && toks[i+2].kind != tokQuoted) {
				return nil, syntaxErr(toks[i+1].pos, "expected a value after %s %s", t.text, toks[i+1].text)
			}
			terms = append(terms, Term{Field: t.text, Op: Op(toks[i+1].text), Value: toks[i+2].text, Pos: t.pos})
			i += 3
		default:
			terms = append(terms, Term{Op: OpHas, Value: t.text, Pos: t.pos})
			i++
		}
	}
	return terms, nil
}

// Errorf returns an INVALID_ARGUMENT error on the field "filter" about a term,
// for the list methods that interpret terms.
func Errorf(t Term, format string, args ...any) error {
	return errdefs.Violation("filter", "%s (at %q, position %d)", fmt.Sprintf(format, args...), t.String(), t.Pos+1)
}

func syntaxErr(pos int, format string, args ...any) error {
	return errdefs.Violation("filter", "syntax error at position %d: %s", pos+1, fmt.Sprintf(format, args...))
}

type tokKind int

const (
	tokWord tokKind = iota
	tokQuoted
	tokOp
	tokAnd
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func quote(t token) string { return fmt.Sprintf("%q", t.text) }

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-:.+", r)
}

func isFieldName(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i, r := range part {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

func lex(s string) ([]token, error) {
	if !utf8.ValidString(s) {
		return nil, errdefs.Violation("filter", "not valid UTF-8")
	}
	var toks []token
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, syntaxErr(i, "unterminated quoted string")
			}
			toks = append(toks, token{tokQuoted, b.String(), i})
			i = j + 1
		case strings.ContainsRune("=!<>", r):
			op := s[i : i+1]
			if i+1 < len(s) && s[i+1] == '=' && r != '=' {
				op = s[i : i+2]
			}
			if op == "!" {
				return nil, syntaxErr(i, `"!" must be followed by "="`)
			}
			toks = append(toks, token{tokOp, op, i})
			i += len(op)
		case isWordRune(r):
			j := i
			for j < len(s) {
				r2, n := utf8.DecodeRuneInString(s[j:])
				if !isWordRune(r2) {
					break
				}
				j += n
			}
			kind := tokWord
			if s[i:j] == "AND" {
				kind = tokAnd
			}
			toks = append(toks, token{kind, s[i:j], i})
			i = j
		default:
			return nil, syntaxErr(i, "unexpected character %q", r)
		}
	}
	return toks, nil
}

// Fold prepares text for free-text matching: lower case, accents removed
// ("Migración" → "migracion"), runs of space collapsed.
func Fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(t, s)
	if err != nil {
		folded = s
	}
	return strings.Join(strings.Fields(strings.ToLower(folded)), " ")
}

// EnumValue resolves the value of a term on an enum field: the value's name
// with or without its prefix ("WORKSHOP" or "EVENT_KIND_WORKSHOP"), in any
// case. Only = and != apply to enums; the zero (UNSPECIFIED) value is not
// accepted. values is the enum's generated name → number map.
func EnumValue(t Term, prefix string, values map[string]int32) (int32, error) {
	if t.Op != OpEq && t.Op != OpNe {
		return 0, Errorf(t, "%s takes = or !=", t.Field)
	}
	name := strings.ToUpper(t.Value)
	want, ok := values[prefix+name]
	if !ok {
		want, ok = values[name]
	}
	if ok && want != 0 {
		return want, nil
	}
	var names []string
	for n, v := range values {
		if v != 0 {
			names = append(names, strings.TrimPrefix(n, prefix))
		}
	}
	slices.Sort(names)
	return 0, Errorf(t, "%s has no value %q; use one of %s", t.Field, t.Value, strings.Join(names, ", "))
}
