package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/auth/devissuer"
)

const tokenSummary = `Prints an access token signed by the built-in dev issuer whose key is kept in
--data-dir (run serve once, or this command, to create it). The token is accepted
by a server running in dev mode with the same --data-dir and --public-url.
Without --oid/--tid/--name/--upn the data folder's default user is used.

By default the token is delegated (a user signed in to an app: scp claim). With
--roles it is app-only instead (client credentials: roles claim, idtyp "app", no
scp, name or upn), as a daemon app gets it, e.g.
  onlinemeetings token --roles OnlineMeetings.ReadWrite.All --app-id <GUID>
Such a token may act on /users/{userId}/onlineMeetings only for the users that
serve's --access-policy grants its app (azp = --app-id) in its tenant (--tid).`

func runToken(args []string, getenv func(string) string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	setUsage(fs, tokenSummary)
	var (
		dataDir, publicURL, audience string
		o                            devissuer.TokenOptions
		scopes, roles                string
		ttl                          time.Duration
	)
	fs.StringVar(&dataDir, "data-dir", "./data", "folder holding the dev issuer's key and default user")
	fs.StringVar(&publicURL, "public-url", "http://localhost:8080", "the server's public URL (the issuer is {public-url}/dev-issuer)")
	fs.StringVar(&audience, "audience", devissuer.DefaultAudience, "token audience (aud)")
	fs.StringVar(&o.OID, "oid", "", "user object id, or the app's for app-only tokens (a GUID; default: the data folder's default user)")
	fs.StringVar(&o.TID, "tid", "", "tenant id (a GUID; default: the default user's tenant)")
	fs.StringVar(&o.Name, "name", "", "display name (name claim)")
	fs.StringVar(&o.UPN, "upn", "", "user principal name (upn and preferred_username claims)")
	fs.StringVar(&scopes, "scopes", devissuer.DefaultScope, "delegated scopes, space-separated (scp claim)")
	fs.StringVar(&roles, "roles", "", "application roles, space-separated (roles claim), e.g. OnlineMeetings.ReadWrite.All: makes an app-only token; not with --scopes, --name or --upn")
	fs.StringVar(&o.AppID, "app-id", devissuer.DefaultAppID, "client application id (azp claim; a GUID)")
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
	if !auth.IsGUID(o.AppID) {
		return usagef("--app-id %q: want a GUID", o.AppID)
	}
	o.Roles = strings.Fields(roles)
	if len(o.Roles) > 0 {
		// App-only: Mint leaves out scp when Scopes is nil.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, c := range []struct{ flag, claim string }{{"scopes", "scp"}, {"name", "name"}, {"upn", "upn"}} {
			if set[c.flag] {
				return usagef("--%s does not go with --roles: an app-only token has no %s claim", c.flag, c.claim)
			}
		}
	} else {
		o.Scopes = strings.Fields(scopes)
	}
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
