package c2sp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Limits a policy may reach; tlog-policy recommends supporting at least 32 of each.
const (
	maxPolicyLogs      = 64
	maxPolicyWitnesses = 256
	maxPolicyGroups    = 64
	// MaxPolicySize bounds a policy file.
	MaxPolicySize = 256 * 1024
)

// PolicyLog is a log a policy trusts.
type PolicyLog struct {
	VKey     string
	URL      string
	Verifier note.Verifier
}

// PolicyWitness is a witness a policy names.
type PolicyWitness struct {
	Name     string
	VKey     string
	URL      string
	Verifier note.Verifier
}

// Policy is a parsed C2SP tlog-policy: the logs it trusts, the witnesses it
// names and the quorum of cosignatures a checkpoint needs. A Policy is
// immutable once parsed and safe for concurrent use.
type Policy struct {
	Logs      []PolicyLog
	Witnesses []PolicyWitness
	quorum    *policyNode // nil means "quorum none"
}

// policyNode is a witness (witness >= 0) or a group of members of which at
// least threshold must have witnessed.
type policyNode struct {
	witness   int
	threshold int
	members   []*policyNode
}

// ParsePolicy parses a tlog-policy file: log, witness, group and quorum lines,
// comments and blank lines. Names must be defined before use, each name at
// most once in one group, and no two logs or two witnesses may share a public key.
func ParsePolicy(text []byte) (*Policy, error) {
	if len(text) > MaxPolicySize {
		return nil, fmt.Errorf("policy is %d bytes, at most %d allowed", len(text), MaxPolicySize)
	}
	for _, c := range text {
		if c < 0x20 && c != '\t' && c != '\n' || c == 0x7f {
			return nil, errors.New("policy contains a control character other than tab and newline")
		}
	}
	p := &Policy{}
	names := map[string]*policyNode{}
	keys := map[string]bool{}
	sawQuorum := false
	groups := 0
	for i, raw := range strings.Split(string(text), "\n") {
		fields := strings.FieldsFunc(raw, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		lineErr := func(format string, args ...any) error {
			return fmt.Errorf("policy line %d: %s", i+1, fmt.Sprintf(format, args...))
		}
		switch fields[0] {
		case "log":
			if len(fields) < 2 || len(fields) > 3 {
				return nil, lineErr("want \"log <vkey> [<url>]\"")
			}
			v, pub, err := parseVKey(fields[1], NewLogVerifier)
			if err != nil {
				return nil, lineErr("%v", err)
			}
			if keys[pub] {
				return nil, lineErr("duplicate key")
			}
			keys[pub] = true
			if len(p.Logs) == maxPolicyLogs {
				return nil, lineErr("more than %d logs", maxPolicyLogs)
			}
			p.Logs = append(p.Logs, PolicyLog{VKey: fields[1], URL: optional(fields, 2), Verifier: v})
		case "witness":
			if len(fields) < 3 || len(fields) > 4 {
				return nil, lineErr("want \"witness <name> <vkey> [<url>]\"")
			}
			name := fields[1]
			if name == "none" || names[name] != nil {
				return nil, lineErr("name %q is reserved or already defined", truncate(name))
			}
			v, pub, err := parseVKey(fields[2], NewCosignatureVerifier)
			if err != nil {
				return nil, lineErr("%v", err)
			}
			if keys[pub] {
				return nil, lineErr("duplicate key")
			}
			keys[pub] = true
			if len(p.Witnesses) == maxPolicyWitnesses {
				return nil, lineErr("more than %d witnesses", maxPolicyWitnesses)
			}
			names[name] = &policyNode{witness: len(p.Witnesses)}
			p.Witnesses = append(p.Witnesses, PolicyWitness{Name: name, VKey: fields[2], URL: optional(fields, 3), Verifier: v})
		case "group":
			if len(fields) < 4 {
				return nil, lineErr("want \"group <name> all|any|<k> <name>...\"")
			}
			name := fields[1]
			if name == "none" || names[name] != nil {
				return nil, lineErr("name %q is reserved or already defined", truncate(name))
			}
			members := fields[3:]
			g := &policyNode{witness: -1}
			seen := map[string]bool{}
			for _, m := range members {
				n := names[m]
				if n == nil {
					return nil, lineErr("member %q is not defined on an earlier line", truncate(m))
				}
				if seen[m] {
					return nil, lineErr("member %q is listed twice", truncate(m))
				}
				seen[m] = true
				g.members = append(g.members, n)
			}
			switch fields[2] {
			case "all":
				g.threshold = len(members)
			case "any":
				g.threshold = 1
			default:
				k, err := ParseDecimal(fields[2])
				if err != nil || k < 1 || k > uint64(len(members)) {
					return nil, lineErr("threshold %q must be all, any or between 1 and %d", truncate(fields[2]), len(members))
				}
				g.threshold = int(k)
			}
			if groups++; groups > maxPolicyGroups {
				return nil, lineErr("more than %d groups", maxPolicyGroups)
			}
			names[name] = g
		case "quorum":
			if len(fields) != 2 {
				return nil, lineErr("want \"quorum <name>\"")
			}
			if sawQuorum {
				return nil, lineErr("a second quorum line")
			}
			sawQuorum = true
			if fields[1] != "none" {
				n := names[fields[1]]
				if n == nil {
					return nil, lineErr("quorum %q is not defined on an earlier line", truncate(fields[1]))
				}
				p.quorum = n
			}
		default:
			return nil, lineErr("unknown keyword %q", truncate(fields[0]))
		}
	}
	if !sawQuorum {
		return nil, errors.New("policy has no quorum line")
	}
	return p, nil
}

func optional(fields []string, i int) string {
	if len(fields) > i {
		return fields[i]
	}
	return ""
}

// parseVKey builds a verifier and returns the raw public key (without type
// byte), which is what identifies duplicates across names and key types.
func parseVKey(vkey string, build func(string) (note.Verifier, error)) (note.Verifier, string, error) {
	v, err := build(vkey)
	if err != nil {
		return nil, "", err
	}
	parts := strings.SplitN(vkey, "+", 3)
	key, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(key) < 2 {
		return nil, "", fmt.Errorf("vkey %q has no key", truncate(vkey))
	}
	sum := sha256.Sum256(key[1:])
	return v, string(sum[:]), nil
}

// ErrQuorumNotMet is returned (wrapped) when a checkpoint's cosignatures do
// not satisfy the policy's quorum.
var ErrQuorumNotMet = errors.New("witness quorum not met")

// ErrUnknownLog is returned (wrapped) when a checkpoint's origin names no log
// in the policy.
var ErrUnknownLog = errors.New("checkpoint is from a log the policy does not list")

// QuorumMet reports whether the named witnesses satisfy the quorum.
func (p *Policy) QuorumMet(cosigners map[string]bool) bool {
	if p.quorum == nil {
		return true
	}
	return p.met(p.quorum, cosigners)
}

func (p *Policy) met(n *policyNode, cosigners map[string]bool) bool {
	if n.witness >= 0 {
		return cosigners[p.Witnesses[n.witness].Name]
	}
	count := 0
	for _, m := range n.members {
		if p.met(m, cosigners) {
			count++
		}
	}
	return count >= n.threshold
}

// WitnessVerifiers returns the cosignature verifiers of every witness.
func (p *Policy) WitnessVerifiers() []note.Verifier {
	vs := make([]note.Verifier, len(p.Witnesses))
	for i, w := range p.Witnesses {
		vs[i] = w.Verifier
	}
	return vs
}

// Cosigners returns the names of the policy's witnesses whose cosignatures
// the opened note carries, sorted.
func (p *Policy) Cosigners(n *note.Note) []string {
	var out []string
	for _, w := range p.Witnesses {
		if HasSignature(n, w.Verifier) {
			out = append(out, w.Name)
		}
	}
	sort.Strings(out)
	return out
}

// VerifyCheckpoint opens a signed checkpoint against the policy: it must be
// signed by one of the policy's logs (chosen by the note's origin line) and
// cosigned to quorum. It returns the checkpoint and the names of the
// witnesses that cosigned it.
func (p *Policy) VerifyCheckpoint(signed []byte) (*SignedCheckpoint, []string, error) {
	origin, _, _ := bytes.Cut(signed, []byte("\n"))
	var lastErr error = fmt.Errorf("%w: %q", ErrUnknownLog, truncate(string(origin)))
	for _, l := range p.Logs {
		if l.Verifier.Name() != string(origin) {
			continue
		}
		sc, err := OpenCheckpoint(signed, l.Verifier, p.WitnessVerifiers()...)
		if err != nil {
			lastErr = err
			continue
		}
		names := p.Cosigners(sc.Note)
		set := map[string]bool{}
		for _, n := range names {
			set[n] = true
		}
		if !p.QuorumMet(set) {
			return sc, names, fmt.Errorf("%w: cosigned by %d witnesses (%s)", ErrQuorumNotMet, len(names), strings.Join(names, ", "))
		}
		return sc, names, nil
	}
	return nil, nil, lastErr
}

// VerifyProof verifies a tlog-proof offline for the entry it claims to
// include: the checkpoint must satisfy the policy, and the inclusion proof
// must lead from the entry's leaf hash to the checkpoint's root.
func (p *Policy) VerifyProof(proof *Proof, leafHash Hash) (*SignedCheckpoint, []string, error) {
	sc, names, err := p.VerifyCheckpoint(proof.Checkpoint)
	if err != nil {
		return nil, names, err
	}
	if err := VerifyInclusion(proof.Index, sc.Size, leafHash, sc.Hash, proof.Hashes); err != nil {
		return nil, names, err
	}
	return sc, names, nil
}
