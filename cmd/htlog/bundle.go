package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/htlog/htlog/client"
)

func init() {
	register("bundle", subcommand{
		summary: "write a patient bundle (custodian side): the log, the provider, the patient's key, the policy and the monitors, for the patient page, htlog lookup and htlog watch",
		run:     bundleCmd,
	})
}

const bundleHelp = `
Writes the patient bundle (htlog-patient-bundle/v1) a custodian hands a
patient, so that the patient never types a key: the log's URL, the
custodian's organisation id, the patient's tag key (the file htlog
patient-key --export wrote), the witness policy, and the monitors the patient
may trust, each as --monitor URL with its verdict key --monitor-key (the
vkey, or a file holding it), paired in order. --openings FILE adds the
openings of values committed to in the patient's events (a JSON array of
{"commitment","value","opening"}); each must open its commitment. The bundle
is checked as every reader checks it, and written with mode 0600: it holds
the patient's key. Without openings it fits a QR code.`

func bundleCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bundle", "--log URL --custodian ORG --key-file FILE --policy FILE [--monitor URL --monitor-key VKEY]... [--openings FILE] --out FILE", bundleHelp, stderr)
	logURL := fs.String("log", "", "the log's base URL as the patient reaches it")
	custodian := fs.String("custodian", "", "the custodian's organisation id (npi:..., gln:..., urn:oid:...)")
	keyFile := fs.String("key-file", "", "the patient's tag key (64 hex digits)")
	policyFile := fs.String("policy", "", "the witness policy")
	monitors := fs.StringArray("monitor", nil, "a monitor's base URL (repeatable)")
	monitorKeys := fs.StringArray("monitor-key", nil, "that monitor's verdict key: a vkey, or a file holding one (repeatable, in the same order)")
	openings := fs.String("openings", "", "a JSON array of openings to include")
	out := fs.String("out", "", "where to write the bundle")
	force := fs.Bool("force", false, "overwrite --out")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *logURL == "" || *custodian == "" || *keyFile == "" || *policyFile == "" || *out == "" || fs.NArg() != 0 {
		return usageError{"usage: htlog bundle --log URL --custodian ORG --key-file FILE --policy FILE [--monitor URL --monitor-key VKEY]... --out FILE"}
	}
	if len(*monitors) != len(*monitorKeys) {
		return usageError{"give one --monitor-key for each --monitor, in the same order"}
	}
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		return usageError{fmt.Sprintf("couldn't read the key: %v", err)}
	}
	policy, err := os.ReadFile(*policyFile)
	if err != nil {
		return usageError{fmt.Sprintf("couldn't read the policy: %v", err)}
	}
	b := &client.PatientBundle{Type: client.BundleType, Log: strings.TrimSuffix(*logURL, "/"), Custodian: *custodian,
		Key: strings.TrimSpace(string(key)), Policy: string(policy)}
	for i, u := range *monitors {
		vkey := (*monitorKeys)[i]
		if data, err := os.ReadFile(vkey); err == nil {
			vkey = strings.TrimSpace(string(data))
		}
		b.Monitors = append(b.Monitors, client.BundleMonitor{URL: u, VKey: vkey})
	}
	if *openings != "" {
		data, err := os.ReadFile(*openings)
		if err != nil {
			return usageError{fmt.Sprintf("couldn't read the openings: %v", err)}
		}
		if err := json.Unmarshal(data, &b.Openings); err != nil {
			return usageError{fmt.Sprintf("%s: not a JSON array of openings: %v", *openings, err)}
		}
	}
	if _, err := hex.DecodeString(b.Key); err != nil || len(b.Key) != 64 {
		return usageError{fmt.Sprintf("%s: a patient bundle needs a 32-byte tag key (64 hex digits), as htlog patient-key makes", *keyFile)}
	}
	j, err := b.Marshal()
	if err != nil {
		return usageError{err.Error()}
	}
	if err := writeKeyFile(*out, string(j)+"\n", 0o600, *force); err != nil {
		return err
	}
	tag, _ := b.Tag()
	fmt.Fprintf(stderr, "wrote the patient bundle to %s (%d bytes%s): hand it to the patient only\n", *out, len(j)+1,
		map[bool]string{true: ", small enough for a QR code", false: ""}[len(j) < 2900])
	fmt.Fprintln(stdout, tag)
	return nil
}
