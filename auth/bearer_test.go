package auth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	long := strings.Repeat("a", MaxTokenBytes+1)
	tests := []struct {
		name       string
		header     string
		want       string
		wantErr    error
		wantReason string
	}{
		{name: "empty", header: "", wantErr: ErrNoToken, wantReason: ReasonNoToken},
		{name: "blank", header: "   ", wantErr: ErrNoToken, wantReason: ReasonNoToken},
		{name: "scheme only", header: "Bearer", wantErr: ErrNoToken, wantReason: ReasonNoToken},
		{name: "scheme and spaces", header: "Bearer   ", wantErr: ErrNoToken, wantReason: ReasonNoToken},
		{name: "valid", header: "Bearer abc.def.ghi", want: "abc.def.ghi"},
		{name: "lower-case scheme", header: "bearer abc.def.ghi", want: "abc.def.ghi"},
		{name: "upper-case scheme", header: "BEARER abc.def.ghi", want: "abc.def.ghi"},
		{name: "extra spaces", header: "Bearer    abc.def-_~+/==", want: "abc.def-_~+/=="},
		{name: "basic scheme", header: "Basic dXNlcjpwYXNz", wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
		{name: "scheme glued to token", header: "Bearerabc.def.ghi", wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
		{name: "token only", header: "abc.def.ghi", wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
		{name: "two tokens", header: "Bearer abc def", wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
		{name: "comma", header: "Bearer abc,def", wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
		{name: "quote", header: `Bearer "abc"`, wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
		{name: "padding in the middle", header: "Bearer ab=c", wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
		{name: "only padding", header: "Bearer ==", wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
		{name: "max size", header: "Bearer " + long[1:], want: long[1:]},
		{name: "oversized", header: "Bearer " + long, wantErr: ErrInvalidToken, wantReason: ReasonOversized},
		{name: "huge", header: "Bearer " + strings.Repeat("a", 1<<20), wantErr: ErrInvalidToken, wantReason: ReasonOversized},
		{name: "huge other scheme", header: "Basic " + strings.Repeat("a", 1<<20), wantErr: ErrInvalidToken, wantReason: ReasonOversized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BearerToken(tt.header)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != "" {
					t.Fatalf("BearerToken(%.40q) = %.40q, %v; want error %v", tt.header, got, err, tt.wantErr)
				}
				if r := Reason(err); r != tt.wantReason {
					t.Errorf("Reason(%v) = %q, want %q", err, r, tt.wantReason)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("BearerToken(%.40q) = %.40q, %v; want %.40q, nil", tt.header, got, err, tt.want)
			}
		})
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"no token", ErrNoToken, ReasonNoToken},
		{"not ready", ErrNotReady, ReasonNotReady},
		{"token error", invalid(ReasonExpired, errors.New("x")), ReasonExpired},
		{"wrapped token error", errors.Join(errors.New("ctx"), invalid(ReasonAudience, nil)), ReasonAudience},
		{"other", errors.New("boom"), ReasonOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Reason(tt.err); got != tt.want {
				t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestTokenErrorIsInvalidToken(t *testing.T) {
	cause := errors.New("cause")
	err := invalid(ReasonSignature, cause)
	if !errors.Is(err, ErrInvalidToken) {
		t.Errorf("errors.Is(%v, ErrInvalidToken) = false, want true", err)
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(%v, cause) = false, want true", err)
	}
	if errors.Is(err, ErrNoToken) || errors.Is(err, ErrNotReady) {
		t.Errorf("%v matches ErrNoToken or ErrNotReady", err)
	}
	if !strings.Contains(err.Error(), "signature") || !strings.Contains(err.Error(), "cause") {
		t.Errorf("Error() = %q, want the reason and the cause", err.Error())
	}
}

func TestBearerTokenFrom(t *testing.T) {
	tests := []struct {
		name       string
		values     []string // Authorization fields, in order
		want       string
		wantErr    error
		wantReason string
	}{
		{name: "none", values: nil, wantErr: ErrNoToken, wantReason: ReasonNoToken},
		{name: "one", values: []string{"Bearer abc.def.ghi"}, want: "abc.def.ghi"},
		{name: "one empty", values: []string{""}, wantErr: ErrNoToken, wantReason: ReasonNoToken},
		{name: "two, the same", values: []string{"Bearer abc.def.ghi", "Bearer abc.def.ghi"}, wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
		{name: "good then garbage", values: []string{"Bearer abc.def.ghi", "Bearer garbage"}, wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
		{name: "empty then good", values: []string{"", "Bearer abc.def.ghi"}, wantErr: ErrInvalidToken, wantReason: ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("authorization", v)
			}
			got, err := BearerTokenFrom(h)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("BearerTokenFrom(%q) = %q, %v; want %q", tt.values, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || Reason(err) != tt.wantReason {
				t.Fatalf("BearerTokenFrom(%q) = %q, %v (reason %q); want %v, reason %q", tt.values, got, err, Reason(err), tt.wantErr, tt.wantReason)
			}
		})
	}
}

// TestIsCanonicalB64URL compares isCanonicalB64URL with the strict decoder
// on every string of up to three characters from the alphabet, '=' and '+'
// (lengths 1, 2 and 3 are the three cases of a last group).
func TestIsCanonicalB64URL(t *testing.T) {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+"
	strict := base64.RawURLEncoding.Strict()
	var walk func(prefix string)
	walk = func(prefix string) {
		_, err := strict.DecodeString(prefix)
		if got := isCanonicalB64URL(prefix); got != (err == nil) {
			t.Fatalf("isCanonicalB64URL(%q) = %v, strict decoding error %v", prefix, got, err)
		}
		if len(prefix) == 3 {
			return
		}
		for i := 0; i < len(chars); i++ {
			walk(prefix + chars[i:i+1])
		}
	}
	walk("")
}
