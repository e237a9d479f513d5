package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/onlinemeetings/onlinemeetings/auth/devissuer"
)

const tokenSummary = `Prints an access token signed by the built-in dev issuer whose key is kept in
--data-dir (run serve once, or this command, to create it). The token is accepted
by a server running in dev mode with the same --data-dir and --public-url.
Without --oid/--tid/--name/--upn the data folder's default user is used.`

func runToken(args []string, getenv func(string) string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	setUsage(fs, tokenSummary)
	var (
		dataDir, publicURL, audience string
		o                            devissuer.TokenOptions
		scopes                       string
		ttl                          time.Duration
	)
	fs.StringVar(&dataDir, "data-dir", "./data", "folder holding the dev issuer's key and default user")
	fs.StringVar(&publicURL, "public-url", "http://localhost:8080", "the server's public URL (the issuer is {public-url}/dev-issuer)")
	fs.StringVar(&audience, "audience", devissuer.DefaultAudience, "token audience (aud)")
	fs.StringVar(&o.OID, "oid", "", "user object id (a GUID; default: the data folder's default user)")
	fs.StringVar(&o.TID, "tid", "", "tenant id (a GUID; default: the default user's tenant)")
	fs.StringVar(&o.Name, "name", "", "display name (name claim)")
	fs.StringVar(&o.UPN, "upn", "", "user principal name (upn and preferred_username claims)")
	fs.StringVar(&scopes, "scopes", "OnlineMeetings.ReadWrite", "delegated scopes, space-separated (scp claim)")
	fs.DurationVar(&ttl, "ttl", time.Hour, "token lifetime")
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if err := checkURL("--public-url", publicURL); err != nil {
		return err
	}
	if ttl <= 0 {
		return usagef("--ttl must be positive")
	}
	o.Scopes = strings.Fields(scopes)
	o.TTL = ttl
	dev, err := devissuer.Open(dataDir)
	if err != nil {
		return fmt.Errorf("dev issuer: %w", err)
	}
	tok, err := dev.Mint(devissuer.IssuerURL(strings.TrimRight(publicURL, "/")), audience, o)
	if err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
