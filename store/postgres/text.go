package postgres

import (
	"errors"
	"sort"
	"strings"
	"unicode/utf8"
)

// errBadText is why a meeting with text PostgreSQL cannot store is refused.
var errBadText = errors.New("text holds a NUL byte or invalid UTF-8, which PostgreSQL cannot store")

// validText reports whether PostgreSQL can store every s as text: valid
// UTF-8 without NUL bytes. No stored id or owner fails it, so a lookup by
// such a string finds nothing and need not be sent.
func validText(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// textCeil returns the least string that is valid text (see validText) and
// not below s in byte order; ok is false when every valid text is below s.
// For every valid t, t < s exactly when t < ceil, so a comparison with any
// string (a List cursor may hold any bytes) can be sent as one with ceil.
func textCeil(s string) (ceil string, ok bool) {
	i := 0 // s[:i] is the longest prefix of s that is valid text
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0 || (r == utf8.RuneError && size == 1) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s, true
	}
	prefix, rest := s[:i], s[i:]
	// The least valid text above s that starts with prefix continues with
	// the least character whose encoding sorts above rest (no character's
	// encoding is a prefix of rest: it would have been decoded above).
	if r, ok := leastRuneAbove(rest); ok {
		return prefix + string(r), true
	}
	// No character sorts above rest (it starts with 0xF5..0xFF, say): the
	// least valid text above s is the least above every text starting
	// with prefix.
	return successor(prefix)
}

// runeCount is the number of Unicode scalar values, which runeAt orders:
// every code point but the surrogates.
const runeCount = utf8.MaxRune + 1 - 0x800

// runeAt is the i-th Unicode scalar value; it sorts as its UTF-8 encoding.
func runeAt(i int) rune {
	if i >= 0xD800 {
		return rune(i + 0x800)
	}
	return rune(i)
}

// leastRuneAbove returns the least character other than NUL whose UTF-8
// encoding sorts above b.
func leastRuneAbove(b string) (rune, bool) {
	i := 1 + sort.Search(runeCount-1, func(i int) bool { return string(runeAt(1+i)) > b })
	if i == runeCount {
		return 0, false
	}
	return runeAt(i), true
}

// successor returns the least valid text above every text that starts with
// p: p with its last character replaced by the next one (dropping
// characters that have no next one); ok is false if there is none.
func successor(p string) (string, bool) {
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r < utf8.MaxRune {
			next := r + 1
			if next == 0xD800 {
				next = 0xE000
			}
			return p + string(next), true
		}
	}
	return "", false
}
