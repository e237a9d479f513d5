package handlers

import (
	"fmt"
	"strings"
)

// filterProperty is a property $filter may compare.
type filterProperty int

const (
	filterJoinWebURL filterProperty = iota + 1
	filterJoinMeetingID
)

// meetingFilter is a parsed $filter: property eq 'literal'.
type meetingFilter struct {
	property filterProperty
	literal  string
}

// filterProperties are the property paths $filter accepts, in lower case
// (OData property names here match case-insensitively, as Graph's
// documented "JoinWebUrl" shows).
var filterProperties = map[string]filterProperty{
	"joinweburl":                          filterJoinWebURL,
	"joinmeetingidsettings/joinmeetingid": filterJoinMeetingID,
}

// parseFilter parses the two $filter forms Graph documents for
// onlineMeetings:
//
//	JoinWebUrl eq '{joinWebUrl}'
//	joinMeetingIdSettings/joinMeetingId eq '{joinMeetingId}'
//
// The value arrives decoded once from the query string. The property and
// eq match in any case; the literal is in single quotes with a quote inside
// it doubled, and is returned unescaped, to be compared exactly. Spaces
// around the parts are allowed. Anything else is 400 "Invalid filter
// clause" saying what is not supported. The result is a value, never SQL.
func parseFilter(s string) (meetingFilter, *Error) {
	rest := strings.TrimLeft(s, " ")
	end := strings.IndexByte(rest, ' ')
	if end < 0 {
		return meetingFilter{}, invalidFilter("expected '<property> eq '<value>'', got '%s'", s)
	}
	name := rest[:end]
	prop, ok := filterProperties[strings.ToLower(name)]
	if !ok {
		return meetingFilter{}, invalidFilter("filtering on '%s' is not supported; use JoinWebUrl or joinMeetingIdSettings/joinMeetingId", name)
	}
	rest = strings.TrimLeft(rest[end:], " ")
	end = strings.IndexByte(rest, ' ')
	if end < 0 || !strings.EqualFold(rest[:end], "eq") {
		op := rest
		if end >= 0 {
			op = rest[:end]
		}
		return meetingFilter{}, invalidFilter("the operator '%s' is not supported; only eq is", op)
	}
	rest = strings.TrimLeft(rest[end:], " ")
	lit, after, gerr := parseLiteral(rest)
	if gerr != nil {
		return meetingFilter{}, gerr
	}
	if tail := strings.TrimSpace(after); tail != "" {
		return meetingFilter{}, invalidFilter("'%s' after the value is not supported; only one comparison is", tail)
	}
	return meetingFilter{property: prop, literal: lit}, nil
}

// parseLiteral reads a single-quoted OData string literal at the start of s
// (” stands for one quote) and returns it and what follows it.
func parseLiteral(s string) (lit, rest string, gerr *Error) {
	if !strings.HasPrefix(s, "'") {
		return "", "", invalidFilter("the value must be a string in single quotes, got '%s'", s)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), s[i+1:], nil
	}
	return "", "", invalidFilter("the string value has no closing quote")
}

func invalidFilter(format string, args ...any) *Error {
	return badRequest("Invalid filter clause: " + fmt.Sprintf(format, args...) + ".")
}
