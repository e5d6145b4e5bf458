package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/ident"
)

func init() {
	register("patient-key", subcommand{
		summary: "keep one tag key per patient (custodian side): create it, print the patient's tag, export it for the patient",
		run:     patientKeyCmd,
	})
}

const patientKeyHelp = `
A patient's tag key belongs to that patient alone: whoever holds it finds
that patient's events on the public log, and nobody else's. A custodian
(hospital, clinic) keeps one key per patient in a private store folder and
never puts two patients under one key.

  htlog patient-key --store DIR --patient ID --custodian ORG
      creates the patient's key if it has none (file DIR/<SHA-256 of ID>.key,
      mode 0600) and prints the patient's tag at ORG: the value of the
      "patient" (and "grantor") fields of the events about that patient.
  ... --export FILE
      also writes the key for the patient (64 hex digits, mode 0600): hand it
      over at the desk, in the patient portal or as a QR code. The patient
      looks their events up with htlog lookup --key-file FILE --custodian ORG,
      or on the log's /patient/ page.
  ... --import FILE
      uses the key the patient brings instead of making one: a patient who
      gives the same key to several providers finds all their events with
      one key, and each provider's tags still differ (the tag binds ORG), so
      one event that leaks links the patient's history at one provider only.

Recovery: the custodian still holds the key and exports it again. Rotation:
move the old file aside and run again; events already logged stay under the
old key, which the patient keeps to find them.`

func patientKeyCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("patient-key", "--store DIR --patient ID --custodian ORG [--export FILE | --import FILE]", patientKeyHelp, stderr)
	store := fs.String("store", "", "the custodian's private folder of patient keys")
	patient := fs.String("patient", "", "the patient's identifier at the custodian (such as the MRN); never leaves the store")
	custodian := fs.String("custodian", "", "the custodian's organisation id, as it submits events (npi:..., gln:...)")
	export := fs.String("export", "", "write the patient's key to this file, for the patient")
	importFile := fs.String("import", "", "use the key in this file (the patient's own) instead of making one")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *store == "" || *patient == "" || *custodian == "" || fs.NArg() != 0 {
		return usageError{"usage: htlog patient-key --store DIR --patient ID --custodian ORG [--export FILE | --import FILE]"}
	}
	if !ident.OrgID(*custodian) {
		return usageError{"--custodian: want gln:<GLN>, npi:<NPI> or urn:oid:<OID> with a valid check digit"}
	}
	if *export != "" && *importFile != "" {
		return usageError{"give at most one of --export and --import"}
	}
	if err := os.MkdirAll(*store, 0o700); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(*patient))
	path := filepath.Join(*store, hex.EncodeToString(sum[:])+".key")
	var key []byte
	if _, err := os.Stat(path); err == nil {
		if *importFile != "" {
			return fmt.Errorf("the patient already has a key in the store (%s): move it aside first to replace it", path)
		}
		if key, err = loadTagKey(path, ""); err != nil {
			return err
		}
	} else if errors.Is(err, os.ErrNotExist) {
		if *importFile != "" {
			if key, err = loadTagKey(*importFile, ""); err != nil {
				return err
			}
		} else {
			key = event.NewTagKey()
		}
		if err := writeKeyFile(path, hex.EncodeToString(key)+"\n", 0o600, false); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "stored a key for this patient in %s\n", path)
	} else {
		return err
	}
	if *export != "" {
		if err := writeKeyFile(*export, hex.EncodeToString(key)+"\n", 0o600, false); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote the patient's key to %s: hand it to the patient only\n", *export)
	}
	fmt.Fprintln(stdout, event.PatientTag(key, strings.TrimSpace(*custodian)))
	return nil
}
