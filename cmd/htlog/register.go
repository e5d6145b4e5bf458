package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/ident"
	"go.yaml.in/yaml/v3"
)

func init() {
	register("register", subcommand{
		summary: "print the submitter-registry entry for an organisation's public key",
		run:     registerCmd,
	})
}

const registerHelp = `
Prints the YAML entry to add under "submitters:" in the log operator's
registry file (submitters_file), with the public key inline, so the operator
can check it and paste it in. Send the operator the output, never the private
key. The key id printed in the comment is what events carry as key_id.`

func registerCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("register", "--org ORG --public-key FILE [flags]", registerHelp, stderr)
	org := fs.String("org", "", "organisation id, such as npi:1234567893 or gln:0614141000005")
	name := fs.String("name", "", "the organisation's name, for the operator")
	pubFile := fs.String("public-key", "", "the submitter public key (the .pub file htlog keygen --kind submitter wrote)")
	kinds := fs.StringSlice("kinds", []string{"access", "consent"}, "event kinds the organisation may submit: access, consent, custody, trial")
	notBefore := fs.String("not-before", "", "RFC 3339 time the key becomes valid (default: no bound)")
	notAfter := fs.String("not-after", "", "RFC 3339 time the key stops being valid (default: no bound)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *org == "" || *pubFile == "" || fs.NArg() != 0 {
		return usageError{"usage: htlog register --org ORG --public-key FILE [--kinds k1,k2]"}
	}
	if !ident.OrgID(*org) {
		return usageError{fmt.Sprintf("--org: %q is not gln:<13 digits>, npi:<10 digits> or urn:oid:<OID> with a valid check digit", *org)}
	}
	for _, k := range *kinds {
		if !slices.Contains(event.Kinds, k) {
			return usageError{fmt.Sprintf("--kinds: unknown kind %q (want %s)", k, strings.Join(event.Kinds, ", "))}
		}
	}
	pemText, err := readFileArg(*pubFile, 64<<10)
	if err != nil {
		return err
	}
	pub, err := event.ParsePublicKey(pemText)
	if err != nil {
		return usageError{fmt.Sprintf("%s: %v", *pubFile, err)}
	}
	keyID, err := event.KeyID(pub)
	if err != nil {
		return err
	}
	// Keep only the PEM block (keygen writes a "# key id" comment before it).
	block := string(pemText)
	if i := strings.Index(block, "-----BEGIN"); i >= 0 {
		block = block[i:]
	}
	key := map[string]any{"public_key": strings.TrimSpace(block) + "\n"}
	for _, b := range []struct {
		name, v string
	}{{"not_before", *notBefore}, {"not_after", *notAfter}} {
		if b.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, b.v)
		if err != nil {
			return usageError{fmt.Sprintf("--%s: %v", strings.ReplaceAll(b.name, "_", "-"), err)}
		}
		key[b.name] = t
	}
	entry := yaml.Node{}
	sub := map[string]any{"org": *org, "kinds": *kinds, "keys": []any{key}}
	if *name != "" {
		sub["name"] = *name
	}
	if err := entry.Encode([]any{sub}); err != nil {
		return err
	}
	out, err := yaml.Marshal(map[string]any{"submitters": &entry})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# %s, key id %s\n%s", *org, keyID, out)
	return nil
}
