package handlers

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in      string
		prop    filterProperty
		literal string
		errPart string // non-empty: want an error containing it
	}{
		{in: "JoinWebUrl eq 'https://x/y'", prop: filterJoinWebURL, literal: "https://x/y"},
		{in: "joinWebUrl EQ 'a'", prop: filterJoinWebURL, literal: "a"},
		{in: "  JOINWEBURL   Eq   'a b'  ", prop: filterJoinWebURL, literal: "a b"},
		{in: "joinMeetingIdSettings/joinMeetingId eq '1234567890123'", prop: filterJoinMeetingID, literal: "1234567890123"},
		{in: "JoinMeetingIdSettings/JoinMeetingId eq ''", prop: filterJoinMeetingID, literal: ""},
		{in: "JoinWebUrl eq 'it''s'", prop: filterJoinWebURL, literal: "it's"},
		{in: "JoinWebUrl eq ''''", prop: filterJoinWebURL, literal: "'"},
		{in: "JoinWebUrl eq 'a%27b'", prop: filterJoinWebURL, literal: "a%27b"}, // no second decoding
		{in: "JoinWebUrl eq 'x' and 1 eq 1", errPart: "after the value"},
		{in: "JoinWebUrl eq 'x", errPart: "no closing quote"},
		{in: "JoinWebUrl eq x", errPart: "single quotes"},
		{in: "JoinWebUrl ne 'x'", errPart: "'ne' is not supported"},
		{in: "JoinWebUrl", errPart: "expected"},
		{in: "", errPart: "expected"},
		{in: "subject eq 'x'", errPart: "'subject' is not supported"},
		{in: "joinMeetingIdSettings/passcode eq 'x'", errPart: "not supported"},
		{in: "startswith(JoinWebUrl, 'x')", errPart: "not supported"},
		{in: "JoinWebUrl eq", errPart: "'eq'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, gerr := parseFilter(tt.in)
			if tt.errPart != "" {
				if gerr == nil {
					t.Fatalf("parseFilter(%q) = %+v, want an error", tt.in, f)
				}
				if gerr.Status != http.StatusBadRequest || !strings.HasPrefix(gerr.Message, "Invalid filter clause") || !strings.Contains(gerr.Message, tt.errPart) {
					t.Errorf("error = %d %q, want 400 Invalid filter clause with %q", gerr.Status, gerr.Message, tt.errPart)
				}
				return
			}
			if gerr != nil {
				t.Fatalf("parseFilter(%q): %v", tt.in, gerr)
			}
			if f.property != tt.prop || f.literal != tt.literal {
				t.Errorf("parseFilter(%q) = %+v, want property %d literal %q", tt.in, f, tt.prop, tt.literal)
			}
		})
	}
}

// quoteLiteral writes s as an OData string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// FuzzParseFilter checks that the parser never panics, that every failure is
// a 400 "Invalid filter clause", and that an accepted filter means exactly
// what it says: quoting its literal again and parsing gives the same
// property and literal back.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"JoinWebUrl eq 'https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%7d'",
		"joinMeetingIdSettings/joinMeetingId eq '1234567890123'",
		"JoinWebUrl eq 'it''s'", "JoinWebUrl eq '", "joinweburl EQ ''", "x eq 'y' or z", " ", "eq eq 'eq'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gerr := parseFilter(s)
		if gerr != nil {
			if gerr.Status != http.StatusBadRequest || gerr.Code != "BadRequest" || !strings.HasPrefix(gerr.Message, "Invalid filter clause") {
				t.Fatalf("parseFilter(%q) error = %+v", s, gerr)
			}
			return
		}
		name := "JoinWebUrl"
		if got.property == filterJoinMeetingID {
			name = "joinMeetingIdSettings/joinMeetingId"
		} else if got.property != filterJoinWebURL {
			t.Fatalf("parseFilter(%q) property = %d", s, got.property)
		}
		again, gerr := parseFilter(name + " eq " + quoteLiteral(got.literal))
		if gerr != nil || again != got {
			t.Fatalf("re-quoted literal of %q parses to %+v, %v; want %+v", s, again, gerr, got)
		}
	})
}
