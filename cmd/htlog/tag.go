package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/htlog/htlog/event"
)

func init() {
	register("tag", subcommand{
		summary: "compute the pseudonymous tag of an identifier under a tag key (or create a tag key)",
		run:     tagCmd,
	})
}

const tagHelp = `
A tag is how an identifier appears on the log: tag:v1:<hex HMAC-SHA-256>,
computable only by whoever holds the tag key. Custodians tag their own
workforce ids and package serials under keys they never hand out.

Patients are different: each patient has a key of their own (htlog
patient-key keeps one per patient and exports it for them), and their tag at
a provider binds the provider's id (--patient-at ORG). Never tag several
patients' record numbers under one key: whoever holds it could tag every
candidate number and find every one of those patients on the public log.

A tag key is 32 random bytes, stored as 64 hex digits on one line.
--new-key FILE creates one (mode 0600). Keep it secret.`

func tagCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tag", "(--key-file FILE | --key-hex HEX) [--json] IDENTIFIER...\n       htlog tag --new-key FILE", tagHelp, stderr)
	keyFile := fs.String("key-file", "", "file holding the tag key (64 hex digits)")
	keyHex := fs.String("key-hex", "", "the tag key as 64 hex digits (visible to other users of this machine: prefer --key-file)")
	newKey := fs.String("new-key", "", "create a new random tag key in this file and exit")
	asJSON := fs.Bool("json", false, `print {"identifier","tag"} per line`)
	patientAt := fs.String("patient-at", "", "print the key holder's patient tag at this provider (npi:..., gln:...) instead of tagging identifiers")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *newKey != "" {
		return writeKeyFile(*newKey, hex.EncodeToString(event.NewTagKey())+"\n", 0o600, false)
	}
	key, err := loadTagKey(*keyFile, *keyHex)
	if err != nil {
		return err
	}
	if *patientAt != "" {
		if fs.NArg() != 0 {
			return usageError{"--patient-at takes no identifier: the key is the patient's own"}
		}
		fmt.Fprintln(stdout, event.PatientTag(key, *patientAt))
		return nil
	}
	if fs.NArg() == 0 {
		return usageError{"give at least one identifier"}
	}
	for _, id := range fs.Args() {
		t := event.Tag(key, id)
		if *asJSON {
			if err := printJSON(stdout, map[string]string{"identifier": id, "tag": t}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(stdout, t)
	}
	return nil
}

// loadTagKey reads a tag key from exactly one of a file and a hex string.
func loadTagKey(file, hexKey string) ([]byte, error) {
	if (file == "") == (hexKey == "") {
		return nil, usageError{"give exactly one of --key-file and --key-hex"}
	}
	src := "--key-hex"
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, usageError{fmt.Sprintf("couldn't read the tag key: %v", err)}
		}
		hexKey, src = string(b), file
	}
	key, err := hex.DecodeString(strings.TrimSpace(hexKey))
	if err != nil || len(key) < 16 {
		return nil, usageError{fmt.Sprintf("%s: a tag key is at least 16 bytes as hex digits (create one with htlog tag --new-key FILE)", src)}
	}
	return key, nil
}
