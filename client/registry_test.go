package client_test

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"golang.org/x/mod/sumdb/note"
)

func registryKeys(t testing.TB, origin string) (note.Signer, *c2sp.Policy) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	p, err := c2sp.ParsePolicy([]byte("log " + vkey + "\nquorum none\n"))
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func signText(t testing.TB, s note.Signer, text string) []byte {
	t.Helper()
	b, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyRegistry(t *testing.T) {
	s, policy := registryKeys(t, "example.test/log")
	text, err := client.RegistryText("example.test/log", []client.RegistrySubmitter{
		{Org: "npi:1245319599", Name: "Riverside Clinic", Kinds: []string{"access"}},
		{Org: "npi:1234567893", Name: "General Hospital"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := client.VerifyRegistry(policy, "example.test/log", signText(t, s, string(text)))
	if err != nil {
		t.Fatal(err)
	}
	for org, want := range map[string]string{"npi:1234567893": "General Hospital", "npi:1245319599": "Riverside Clinic", "npi:1497758544": ""} {
		if got, ok := r.Name(org); got != want || ok != (want != "") {
			t.Errorf("Name(%s) = %q, %v; want %q", org, got, ok, want)
		}
	}
	other, _ := registryKeys(t, "example.test/log")
	json := `{"submitters":[{"org":"npi:1234567893","name":"General Hospital","kinds":["access"]}]}`
	for name, tc := range map[string]struct {
		signed []byte
		origin string
		want   string
	}{
		"other key":        {signed: signText(t, other, string(text)), want: "valid signature"},
		"other origin":     {signed: signText(t, s, string(text)), origin: "other.test/log", want: "want"},
		"unlisted log":     {signed: signText(t, s, client.RegistryHeader+"\nother.test/log\n"+json+"\n"), want: "does not list"},
		"header":           {signed: signText(t, s, "htlog registry v2\nexample.test/log\n"+json+"\n"), want: "not a registry"},
		"four lines":       {signed: signText(t, s, client.RegistryHeader+"\nexample.test/log\n"+json+"\nmore\n"), want: "4 lines"},
		"unknown field":    {signed: signText(t, s, client.RegistryHeader+"\nexample.test/log\n"+strings.Replace(json, `"kinds"`, `"keys":1,"kinds"`, 1)+"\n"), want: "unknown field"},
		"bad org":          {signed: signText(t, s, client.RegistryHeader+"\nexample.test/log\n"+strings.Replace(json, "1234567893", "1234567890", 1)+"\n"), want: "organisation id"},
		"control in name":  {signed: signText(t, s, client.RegistryHeader+"\nexample.test/log\n"+strings.Replace(json, "General", `Gen\u0007eral`, 1)+"\n"), want: "printable"},
		"duplicate member": {signed: signText(t, s, client.RegistryHeader+"\nexample.test/log\n"+strings.Replace(json, `"name"`, `"name":"X","name"`, 1)+"\n"), want: "twice"},
	} {
		_, err := client.VerifyRegistry(policy, tc.origin, tc.signed)
		if !errors.Is(err, client.ErrNotVerified) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrNotVerified mentioning %q", name, err, tc.want)
		}
	}
	if _, err := client.RegistryText("example.test/log", []client.RegistrySubmitter{{Org: "npi:1234567893", Name: " padded"}}); err == nil {
		t.Error("RegistryText accepts a name with spaces around it")
	}
}

// FuzzVerifyRegistry: a note signed by the log's key whose text is
// anything; whatever verifies names only valid organisations, in order.
func FuzzVerifyRegistry(f *testing.F) {
	s, policy := registryKeys(f, "example.test/log")
	f.Add(`{"submitters":[{"org":"npi:1234567893","name":"General Hospital","kinds":["access"]}]}`)
	f.Add(`{"submitters":[]}`)
	f.Add(`{"submitters":null}`)
	f.Fuzz(func(t *testing.T, line string) {
		signed, err := note.Sign(&note.Note{Text: client.RegistryHeader + "\nexample.test/log\n" + line + "\n"}, s)
		if err != nil {
			return
		}
		r, err := client.VerifyRegistry(policy, "", signed)
		if err != nil {
			return
		}
		if _, err := client.RegistryText(r.Origin, r.Submitters); err != nil {
			t.Fatalf("verified a registry RegistryText refuses: %v", err)
		}
	})
}
