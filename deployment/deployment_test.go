package deployment_test

// These tests parse every deployment file (there is no Docker engine or
// Kubernetes cluster in the test environment) and check that the files agree
// with each other: Kubernetes objects are well formed and reference each
// other correctly, the kustomization lists exactly the manifests that exist,
// the daemon configurations use only keys the daemons know, and the compose
// services depend on services that exist.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// doc is one YAML document of a file.
type doc struct {
	file  string
	index int
	v     map[string]any
}

func (d doc) String() string { return fmt.Sprintf("%s#%d", d.file, d.index) }

// parseDocs parses every document of a YAML file; empty documents are skipped.
func parseDocs(t *testing.T, path string) []doc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	var docs []doc
	for i := 0; ; i++ {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		if v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: document %d is a %T, not a mapping", path, i, v)
		}
		docs = append(docs, doc{file: path, index: i, v: m})
	}
	return docs
}

// yamlFiles lists the YAML files under dir, sorted.
func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// Accessors over decoded YAML: a missing key or a wrong type gives the zero value.

func get(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any, path ...string) []any {
	l, _ := get(v, path...).([]any)
	return l
}

func mapping(v any, path ...string) map[string]any {
	m, _ := get(v, path...).(map[string]any)
	return m
}

func stringMap(v any, path ...string) map[string]string {
	out := map[string]string{}
	for k, x := range mapping(v, path...) {
		out[k] = fmt.Sprint(x)
	}
	return out
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Every YAML file

func TestEveryYAMLFileParses(t *testing.T) {
	files := yamlFiles(t, ".")
	if len(files) == 0 {
		t.Fatal("no YAML files under deployment/")
	}
	for _, f := range files {
		if len(parseDocs(t, f)) == 0 {
			t.Errorf("%s: no documents", f)
		}
	}
}

// ---------------------------------------------------------------------------
// Kubernetes

const k8sDir = "kubernetes"

// workloadKinds have a pod template at spec.template.
var workloadKinds = map[string]bool{"Deployment": true, "StatefulSet": true, "DaemonSet": true, "Job": true, "ReplicaSet": true}

type k8s struct {
	objects []doc
	byKind  map[string]map[string]doc // kind -> name -> object
}

func loadK8s(t *testing.T) *k8s {
	t.Helper()
	k := &k8s{byKind: map[string]map[string]doc{}}
	for _, f := range yamlFiles(t, k8sDir) {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		for _, d := range parseDocs(t, f) {
			k.objects = append(k.objects, d)
			kind, name := str(d.v, "kind"), str(d.v, "metadata", "name")
			if k.byKind[kind] == nil {
				k.byKind[kind] = map[string]doc{}
			}
			if _, dup := k.byKind[kind][name]; dup && kind != "" && name != "" {
				t.Errorf("%v: %s %q defined twice", d, kind, name)
			}
			k.byKind[kind][name] = d
		}
	}
	if len(k.objects) == 0 {
		t.Fatal("no Kubernetes objects")
	}
	return k
}

func (k *k8s) workloads() []doc {
	var out []doc
	for _, d := range k.objects {
		if workloadKinds[str(d.v, "kind")] {
			out = append(out, d)
		}
	}
	return out
}

func podSpec(d doc) map[string]any { return mapping(d.v, "spec", "template", "spec") }

func podLabels(d doc) map[string]string {
	return stringMap(d.v, "spec", "template", "metadata", "labels")
}

func containers(d doc, withInit bool) []map[string]any {
	var out []map[string]any
	keys := []string{"containers"}
	if withInit {
		keys = append(keys, "initContainers")
	}
	for _, key := range keys {
		for _, c := range list(podSpec(d), key) {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// hasPort reports whether a container declares port p (a name or a number).
func hasPort(c map[string]any, p any) bool {
	for _, port := range list(c, "ports") {
		switch p := p.(type) {
		case string:
			if str(port, "name") == p {
				return true
			}
			if n, err := strconv.Atoi(p); err == nil && fmt.Sprint(get(port, "containerPort")) == strconv.Itoa(n) {
				return true
			}
		case int:
			if fmt.Sprint(get(port, "containerPort")) == strconv.Itoa(p) {
				return true
			}
		}
	}
	return false
}

func TestKubernetesObjectsAreWellFormed(t *testing.T) {
	k := loadK8s(t)
	for _, d := range k.objects {
		for _, key := range []string{"apiVersion", "kind"} {
			if str(d.v, key) == "" {
				t.Errorf("%v: no %s", d, key)
			}
		}
		if str(d.v, "metadata", "name") == "" {
			t.Errorf("%v: no metadata.name", d)
		}
		if ns := str(d.v, "metadata", "namespace"); ns != "" && ns != "htlog" {
			t.Errorf("%v: namespace %q; the kustomization puts everything in htlog", d, ns)
		}
	}
	for _, kind := range []string{"Namespace", "Service", "Deployment", "StatefulSet", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"} {
		if len(k.byKind[kind]) == 0 {
			t.Errorf("no %s", kind)
		}
	}
}

func TestKustomizationListsExactlyTheManifests(t *testing.T) {
	docs := parseDocs(t, filepath.Join(k8sDir, "kustomization.yaml"))
	if len(docs) != 1 {
		t.Fatalf("kustomization.yaml has %d documents, want 1", len(docs))
	}
	listed := map[string]bool{}
	for _, r := range list(docs[0].v, "resources") {
		s, _ := r.(string)
		if listed[s] {
			t.Errorf("kustomization.yaml lists %s twice", s)
		}
		listed[s] = true
	}
	exist := map[string]bool{}
	for _, f := range yamlFiles(t, k8sDir) {
		rel, err := filepath.Rel(k8sDir, f)
		if err != nil {
			t.Fatal(err)
		}
		if rel != "kustomization.yaml" {
			exist[filepath.ToSlash(rel)] = true
		}
	}
	for f := range exist {
		if !listed[f] {
			t.Errorf("%s exists but kustomization.yaml does not list it", f)
		}
	}
	for f := range listed {
		if !exist[f] {
			t.Errorf("kustomization.yaml lists %s, which does not exist", f)
		}
	}
}

func TestKubernetesWorkloads(t *testing.T) {
	k := loadK8s(t)
	if len(k.workloads()) == 0 {
		t.Fatal("no workloads")
	}
	for _, d := range k.workloads() {
		kind := str(d.v, "kind")
		labels := podLabels(d)
		if len(labels) == 0 {
			t.Errorf("%v: pod template has no labels", d)
		}
		if kind != "Job" {
			sel := stringMap(d.v, "spec", "selector", "matchLabels")
			if len(sel) == 0 || !subset(sel, labels) {
				t.Errorf("%v: spec.selector.matchLabels %v does not match the pod labels %v", d, sel, labels)
			}
		}
		if kind == "StatefulSet" {
			svc := str(d.v, "spec", "serviceName")
			if _, ok := k.byKind["Service"][svc]; !ok {
				t.Errorf("%v: serviceName %q is not a Service here", d, svc)
			}
		}
		ps := podSpec(d)
		if get(ps, "securityContext", "runAsNonRoot") != true {
			t.Errorf("%v: pod securityContext.runAsNonRoot is not true", d)
		}
		volumes := map[string]map[string]any{}
		for _, v := range list(ps, "volumes") {
			volumes[str(v, "name")] = mapping(v)
		}
		for _, c := range containers(d, true) {
			name := str(c, "name")
			if get(c, "securityContext", "readOnlyRootFilesystem") != true {
				t.Errorf("%v: container %s: securityContext.readOnlyRootFilesystem is not true", d, name)
			}
			if get(c, "securityContext", "allowPrivilegeEscalation") != false {
				t.Errorf("%v: container %s: securityContext.allowPrivilegeEscalation is not false", d, name)
			}
			if len(mapping(c, "resources", "requests")) == 0 {
				t.Errorf("%v: container %s: no resource requests", d, name)
			}
			if str(c, "image") == "" {
				t.Errorf("%v: container %s: no image", d, name)
			}
			for _, m := range list(c, "volumeMounts") {
				if volumes[str(m, "name")] == nil && !isClaimTemplate(d, str(m, "name")) {
					t.Errorf("%v: container %s mounts undefined volume %q", d, name, str(m, "name"))
				}
			}
		}
		for _, c := range containers(d, false) {
			name := str(c, "name")
			for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
				p := mapping(c, probe)
				if p == nil {
					continue
				}
				var port any
				for _, handler := range []string{"httpGet", "tcpSocket", "grpc"} {
					if h := mapping(p, handler); h != nil {
						port = h["port"]
					}
				}
				if port == nil {
					t.Errorf("%v: container %s: %s has no port", d, name, probe)
				} else if !hasPort(c, port) {
					t.Errorf("%v: container %s: %s uses port %v, which the container does not declare", d, name, probe, port)
				}
			}
			if strings.HasPrefix(name, "htlog-") {
				for _, probe := range []string{"readinessProbe", "livenessProbe"} {
					if path := str(c, probe, "httpGet", "path"); path != "/healthz" {
						t.Errorf("%v: container %s: %s path is %q, want /healthz", d, name, probe, path)
					}
				}
			}
		}
		// Referenced ConfigMaps and claims exist; subPath keys exist in the ConfigMap.
		for vname, v := range volumes {
			if cm := str(v, "configMap", "name"); cm != "" {
				obj, ok := k.byKind["ConfigMap"][cm]
				if !ok {
					t.Errorf("%v: volume %s: ConfigMap %q is not defined", d, vname, cm)
					continue
				}
				for _, c := range containers(d, true) {
					for _, m := range list(c, "volumeMounts") {
						if str(m, "name") != vname || str(m, "subPath") == "" {
							continue
						}
						if _, ok := mapping(obj.v, "data")[str(m, "subPath")]; !ok {
							t.Errorf("%v: subPath %q is not a key of ConfigMap %s", d, str(m, "subPath"), cm)
						}
					}
				}
			}
			if claim := str(v, "persistentVolumeClaim", "claimName"); claim != "" {
				if _, ok := k.byKind["PersistentVolumeClaim"][claim]; !ok {
					t.Errorf("%v: volume %s: PersistentVolumeClaim %q is not defined", d, vname, claim)
				}
			}
		}
	}
}

func isClaimTemplate(d doc, name string) bool {
	for _, c := range list(d.v, "spec", "volumeClaimTemplates") {
		if str(c, "metadata", "name") == name {
			return true
		}
	}
	return false
}

func TestKubernetesServicesSelectWorkloads(t *testing.T) {
	k := loadK8s(t)
	for name, svc := range k.byKind["Service"] {
		if str(svc.v, "spec", "type") == "ExternalName" {
			if str(svc.v, "spec", "externalName") == "" {
				t.Errorf("%v: ExternalName Service %s has no externalName", svc, name)
			}
			continue
		}
		sel := stringMap(svc.v, "spec", "selector")
		if len(sel) == 0 {
			t.Errorf("%v: Service %s has no selector", svc, name)
			continue
		}
		var matched []doc
		for _, w := range k.workloads() {
			if subset(sel, podLabels(w)) {
				matched = append(matched, w)
			}
		}
		if len(matched) == 0 {
			t.Errorf("%v: Service %s selects %v, which no workload's pods carry", svc, name, sel)
			continue
		}
		ports := list(svc.v, "spec", "ports")
		if len(ports) == 0 {
			t.Errorf("%v: Service %s has no ports", svc, name)
		}
		for _, p := range ports {
			target := get(p, "targetPort")
			if target == nil {
				target = get(p, "port")
			}
			for _, w := range matched {
				if !slices.ContainsFunc(containers(w, false), func(c map[string]any) bool { return hasPort(c, target) }) {
					t.Errorf("%v: Service %s targets port %v, which no container of %s %s declares",
						svc, name, target, str(w.v, "kind"), str(w.v, "metadata", "name"))
				}
			}
		}
	}
}

func TestKubernetesAutoscalersAndBudgets(t *testing.T) {
	k := loadK8s(t)
	for name, hpa := range k.byKind["HorizontalPodAutoscaler"] {
		kind, target := str(hpa.v, "spec", "scaleTargetRef", "kind"), str(hpa.v, "spec", "scaleTargetRef", "name")
		if _, ok := k.byKind[kind][target]; !ok {
			t.Errorf("%v: HorizontalPodAutoscaler %s scales %s %q, which is not defined", hpa, name, kind, target)
		}
	}
	for name, pdb := range k.byKind["PodDisruptionBudget"] {
		sel := stringMap(pdb.v, "spec", "selector", "matchLabels")
		if len(sel) == 0 || !slices.ContainsFunc(k.workloads(), func(w doc) bool { return subset(sel, podLabels(w)) }) {
			t.Errorf("%v: PodDisruptionBudget %s selects %v, which no workload's pods carry", pdb, name, sel)
		}
	}
}

// The replica counts and election flags the design relies on.
func TestKubernetesTopology(t *testing.T) {
	k := loadK8s(t)
	want := map[string]int{
		"StatefulSet/etcd":               3,
		"Deployment/trillian-log-server": 3,
		"Deployment/trillian-log-signer": 2,
		"Deployment/htlog-server":        3,
	}
	for key, n := range want {
		kind, name, _ := strings.Cut(key, "/")
		d, ok := k.byKind[kind][name]
		if !ok {
			t.Errorf("no %s", key)
			continue
		}
		if got := fmt.Sprint(get(d.v, "spec", "replicas")); got != strconv.Itoa(n) {
			t.Errorf("%s has %s replicas, want %d", key, got, n)
		}
	}
	signer := k.byKind["Deployment"]["trillian-log-signer"]
	args := containerArgs(containers(signer, false))
	for _, flag := range []string{"--election_system", "--etcd_servers", "--lock_file_path"} {
		if _, ok := args[flag]; !ok {
			t.Errorf("trillian-log-signer has no %s flag", flag)
		}
	}
	if _, ok := args["--force_master"]; ok {
		t.Error("trillian-log-signer runs several replicas with --force_master")
	}
	for _, server := range strings.Split(args["--etcd_servers"], ",") {
		host, _, _ := strings.Cut(server, ":")
		svc := host
		if i := strings.Index(host, "."); i >= 0 {
			svc = host[i+1:]
		}
		if _, ok := k.byKind["Service"][svc]; !ok {
			t.Errorf("--etcd_servers names %s, but there is no Service %s", server, svc)
		}
	}
}

func containerArgs(cs []map[string]any) map[string]string {
	out := map[string]string{}
	for _, c := range cs {
		for _, key := range []string{"command", "args"} {
			for _, a := range list(c, key) {
				s, _ := a.(string)
				if strings.HasPrefix(s, "--") {
					k, v, _ := strings.Cut(s, "=")
					out[k] = v
				}
			}
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Trillian flags used anywhere must exist in Trillian v1.8.0 (the version
// pinned in go.mod); the lists come from cmd/trillian_log_server/main.go,
// cmd/trillian_log_signer/main.go and the storage, quota and election
// providers they link.

var trillianCommonFlags = []string{
	"--rpc_endpoint", "--http_endpoint", "--tls_cert_file", "--tls_key_file", "--healthz_timeout",
	"--quota_system", "--storage_system", "--config", "--cpuprofile", "--memprofile", "--max_msg_size_bytes",
	"--etcd_http_service", "--etcd_servers", "--quota_min_batch_size", "--quota_max_cache_entries",
	"--mysql_uri", "--mysql_max_conns", "--mysql_max_idle_conns", "--mysql_tls_ca", "--mysql_server_name",
	"--max_unsequenced_rows", "--mysql_quota_min_batch_size", "--mysql_quota_max_cache_entries",
}

var trillianFlags = map[string][]string{
	"trillian_log_server": append(slices.Clone(trillianCommonFlags),
		"--etcd_service", "--quota_dry_run", "--tree_gc", "--tree_delete_threshold", "--tree_delete_min_run_interval"),
	"trillian_log_signer": append(slices.Clone(trillianCommonFlags),
		"--sequencer_interval", "--batch_size", "--num_sequencers", "--sequencer_guard_window", "--force_master",
		"--quota_increase_factor", "--election_system", "--pre_election_pause", "--master_hold_interval",
		"--master_hold_jitter", "--lock_file_path", "--lock_namespace", "--lock_holder_identity"),
}

func checkTrillianFlags(t *testing.T, where string, cmd []string) {
	t.Helper()
	if len(cmd) == 0 {
		return
	}
	known, ok := trillianFlags[cmd[0]]
	if !ok {
		return
	}
	for _, a := range cmd[1:] {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, _, _ := strings.Cut(a, "=")
		if !slices.Contains(known, name) {
			t.Errorf("%s: %s has no flag %s", where, cmd[0], name)
		}
	}
}

func stringsOf(l []any) []string {
	var out []string
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func TestTrillianFlagsExist(t *testing.T) {
	k := loadK8s(t)
	for _, w := range k.workloads() {
		for _, c := range containers(w, true) {
			checkTrillianFlags(t, w.String(), append(stringsOf(list(c, "command")), stringsOf(list(c, "args"))...))
		}
	}
	for name, svc := range loadCompose(t).services {
		checkTrillianFlags(t, "docker-compose.yml service "+name, stringsOf(list(svc, "command")))
	}
}

// ---------------------------------------------------------------------------
// Daemon configuration files

// schema is the set of keys a daemon's configuration may hold; a nested
// schema describes a mapping, and listOf a list of mappings.
type schema map[string]any

type listOf schema

// tlsServer is a daemon's tls section, tlsClient that of an outgoing link.
var (
	tlsServer = schema{"cert_file": nil, "key_file": nil, "ca_file": nil,
		"acme": schema{"domains": nil, "cache_dir": nil, "email": nil, "directory_url": nil}}
	tlsClient = schema{"ca_file": nil, "server_name": nil, "cert_file": nil, "key_file": nil}
)

var daemonSchemas = map[string]schema{
	"htlog-server": {
		"listen": nil, "gc_percent": nil, "origin": nil, "key_file": nil, "tls": tlsServer,
		"database":            schema{"dsn": nil, "tls": tlsClient},
		"trillian":            schema{"address": nil, "tls": tlsClient},
		"checkpoint_interval": nil, "policy_file": nil, "witness_timeout": nil, "fail_open": nil,
		"submitters_file": nil,
		"rate_limit":      schema{"per_submitter": nil, "burst": nil},
		"admission":       schema{"max_ahead": nil, "max_behind": nil, "url_prefixes": nil},
		"max_backlog":     nil, "receipt_timeout": nil, "max_checkpoint_age": nil, "read_only": nil,
	},
	"htlog-witness": {
		"listen": nil, "gc_percent": nil, "tls": tlsServer, "database": schema{"dsn": nil, "tls": tlsClient}, "key_file": nil,
		"logs":          listOf{"origin": nil, "vkey": nil, "vkey_file": nil, "url": nil},
		"pull_interval": nil, "peers": nil, "gossip_interval": nil,
	},
	"htlog-monitor": {
		"listen": nil, "gc_percent": nil, "tls": tlsServer, "database": schema{"dsn": nil, "tls": tlsClient},
		"log":         schema{"url": nil, "vkey_file": nil},
		"policy_file": nil, "submitters_file": nil, "witnesses": nil, "peers": nil,
		"poll_interval": nil, "evidence_dir": nil, "webhooks": nil,
		"admission": schema{"max_ahead": nil, "url_prefixes": nil},
		"pollinate": schema{"per_second": nil, "burst": nil},
		"rules": schema{
			"break_glass_max": nil, "break_glass_window": nil, "volume_max": nil, "volume_window": nil,
			"consent_purposes": nil, "settle_window": nil, "settle_max": nil,
		},
		"signing_key_file": nil, "regulators": listOf{"name": nil, "token_file": nil},
	},
	"htlog-gateway": {
		"listen": nil, "gc_percent": nil, "tls": tlsServer, "database": schema{"dsn": nil, "tls": tlsClient},
		"log": nil, "policy_file": nil, "org": nil, "key_file": nil, "workforce_key_file": nil, "registry_file": nil,
		"source_system": nil, "source_systems": nil, "acts_for": nil, "gs1_company_prefixes": nil,
		"default_purpose_of_use": nil, "default_agent_role": nil, "token_file": nil,
		"monitors": listOf{"url": nil, "vkey": nil}, "window": nil, "max_backoff": nil,
		"pkcs11":         schema{"module": nil, "token_label": nil, "key_label": nil, "pin_file": nil},
		"access_version": nil, "custody_version": nil, "consent_version": nil,
	},
}

// required keys (dotted) per daemon.
var daemonRequired = map[string][]string{
	"htlog-server":  {"listen", "origin", "key_file", "database.dsn", "trillian.address", "policy_file", "submitters_file"},
	"htlog-witness": {"listen", "database.dsn", "key_file", "logs"},
	"htlog-monitor": {"listen", "database.dsn", "log.url", "log.vkey_file", "policy_file", "submitters_file"},
	"htlog-gateway": {"listen", "database.dsn", "log", "policy_file", "org", "workforce_key_file", "token_file"},
}

// daemonOf names the daemon a config file (or ConfigMap key) is for.
func daemonOf(name string) string {
	base := filepath.Base(name)
	for d := range daemonSchemas {
		if strings.HasPrefix(base, d) && strings.HasSuffix(base, ".yaml") {
			return d
		}
	}
	return ""
}

func checkKeys(t *testing.T, where string, s schema, v map[string]any, prefix string) {
	t.Helper()
	for k, x := range v {
		sub, known := s[k]
		if !known {
			t.Errorf("%s: unknown key %s%s", where, prefix, k)
			continue
		}
		switch sub := sub.(type) {
		case schema:
			m, ok := x.(map[string]any)
			if !ok {
				t.Errorf("%s: %s%s is a %T, want a mapping", where, prefix, k, x)
				continue
			}
			checkKeys(t, where, sub, m, prefix+k+".")
		case listOf:
			l, ok := x.([]any)
			if !ok {
				t.Errorf("%s: %s%s is a %T, want a list", where, prefix, k, x)
				continue
			}
			for i, item := range l {
				m, ok := item.(map[string]any)
				if !ok {
					t.Errorf("%s: %s%s[%d] is a %T, want a mapping", where, prefix, k, i, item)
					continue
				}
				checkKeys(t, where, schema(sub), m, fmt.Sprintf("%s%s[%d].", prefix, k, i))
			}
		}
	}
}

func checkDaemonConfig(t *testing.T, where, daemon string, v map[string]any) {
	t.Helper()
	checkKeys(t, where, daemonSchemas[daemon], v, "")
	for _, key := range daemonRequired[daemon] {
		if get(v, strings.Split(key, ".")...) == nil {
			t.Errorf("%s: %s config has no %s", where, daemon, key)
		}
	}
	if !regexp.MustCompile(`^[0-9.]*:[0-9]+$`).MatchString(str(v, "listen")) {
		t.Errorf("%s: listen %q is not host:port", where, str(v, "listen"))
	}
}

// composeConfigs returns the daemon configs in deployment/compose by file name.
func composeConfigs(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, f := range yamlFiles(t, "compose") {
		daemon := daemonOf(f)
		if daemon == "" {
			continue
		}
		docs := parseDocs(t, f)
		if len(docs) != 1 {
			t.Fatalf("%s: %d documents, want 1", f, len(docs))
		}
		out[filepath.Base(f)] = docs[0].v
	}
	return out
}

func TestComposeDaemonConfigs(t *testing.T) {
	configs := composeConfigs(t)
	seen := map[string]int{}
	for name, v := range configs {
		daemon := daemonOf(name)
		seen[daemon]++
		checkDaemonConfig(t, "compose/"+name, daemon, v)
	}
	for d := range daemonSchemas {
		if seen[d] == 0 {
			t.Errorf("no compose/%s*.yaml", d)
		}
	}
	if seen["htlog-witness"] != 3 {
		t.Errorf("%d witness configs, want 3", seen["htlog-witness"])
	}
	// Everything follows the same log, and witnesses use their own databases.
	origin := str(configs["htlog-server.yaml"], "origin")
	dbs := map[string]string{}
	for name, v := range configs {
		if daemonOf(name) == "htlog-witness" {
			for _, l := range list(v, "logs") {
				if o := str(l, "origin"); o != origin {
					t.Errorf("compose/%s follows origin %q, the server signs %q", name, o, origin)
				}
			}
		}
		dsn := str(v, "database", "dsn")
		if other, dup := dbs[dsn]; dup {
			t.Errorf("compose/%s and compose/%s share the database %s", name, other, dsn)
		}
		dbs[dsn] = name
	}
}

func TestKubernetesDaemonConfigs(t *testing.T) {
	k := loadK8s(t)
	n := 0
	for name, cm := range k.byKind["ConfigMap"] {
		for key, data := range mapping(cm.v, "data") {
			daemon := daemonOf(key)
			if daemon == "" {
				continue
			}
			var v map[string]any
			if err := yaml.Unmarshal([]byte(fmt.Sprint(data)), &v); err != nil {
				t.Errorf("ConfigMap %s key %s: %v", name, key, err)
				continue
			}
			checkDaemonConfig(t, "ConfigMap "+name+" "+key, daemon, v)
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d daemon configs in ConfigMaps, want 4 (server, witness, monitor, gateway)", n)
	}
}

// ---------------------------------------------------------------------------
// Docker Compose

type compose struct {
	v        map[string]any
	services map[string]map[string]any
}

func loadCompose(t *testing.T) *compose {
	t.Helper()
	docs := parseDocs(t, "docker-compose.yml")
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yml: %d documents, want 1", len(docs))
	}
	c := &compose{v: docs[0].v, services: map[string]map[string]any{}}
	for name, s := range mapping(c.v, "services") {
		m, ok := s.(map[string]any)
		if !ok {
			t.Fatalf("docker-compose.yml: service %s is a %T", name, s)
		}
		c.services[name] = m
	}
	return c
}

// dependsOn returns a service's dependencies, in short (list) or long (map) form.
func dependsOn(t *testing.T, name string, svc map[string]any) []string {
	var out []string
	switch d := svc["depends_on"].(type) {
	case nil:
	case []any:
		out = stringsOf(d)
	case map[string]any:
		for dep, spec := range d {
			out = append(out, dep)
			cond := str(spec, "condition")
			switch cond {
			case "", "service_started", "service_healthy", "service_completed_successfully":
			default:
				t.Errorf("docker-compose.yml: %s depends on %s with unknown condition %q", name, dep, cond)
			}
		}
	default:
		t.Errorf("docker-compose.yml: %s: depends_on is a %T", name, d)
	}
	sort.Strings(out)
	return out
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, want := range []string{
		"mariadb", "db-init", "keys", "trillian-log-server", "trillian-log-signer",
		"htlog-server", "htlog-witness1", "htlog-witness2", "htlog-witness3", "htlog-monitor",
	} {
		if c.services[want] == nil {
			t.Errorf("docker-compose.yml has no service %s", want)
		}
	}
	deps := map[string][]string{}
	for name, svc := range c.services {
		deps[name] = dependsOn(t, name, svc)
		for _, d := range deps[name] {
			if c.services[d] == nil {
				t.Errorf("docker-compose.yml: %s depends on undefined service %s", name, d)
			}
		}
		if svc["image"] == nil && svc["build"] == nil {
			t.Errorf("docker-compose.yml: %s has neither image nor build", name)
		}
		// Long-running services have a health check; one-shot jobs do not restart.
		if str(svc, "restart") == "no" {
			continue
		}
		if list(svc, "healthcheck", "test") == nil {
			t.Errorf("docker-compose.yml: %s has no healthcheck", name)
		}
	}
	// No dependency cycles.
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string, []string)
	visit = func(s string, path []string) {
		switch state[s] {
		case 1:
			t.Errorf("docker-compose.yml: dependency cycle %s -> %s", strings.Join(path, " -> "), s)
			return
		case 2:
			return
		}
		state[s] = 1
		for _, d := range deps[s] {
			visit(d, append(path, s))
		}
		state[s] = 2
	}
	for name := range c.services {
		visit(name, nil)
	}
	for name, svc := range c.services {
		for _, d := range deps[name] {
			if cond := str(svc, "depends_on", d, "condition"); cond == "service_healthy" && list(c.services[d], "healthcheck", "test") == nil {
				t.Errorf("docker-compose.yml: %s waits for %s to be healthy, which has no healthcheck", name, d)
			}
		}
	}
}

func TestComposeVolumesAndConfigs(t *testing.T) {
	c := loadCompose(t)
	named := mapping(c.v, "volumes")
	configs := composeConfigs(t)
	for name, svc := range c.services {
		mounted := map[string]string{} // container path -> host file (bind mounts)
		for _, v := range list(svc, "volumes") {
			s, ok := v.(string)
			if !ok {
				t.Errorf("docker-compose.yml: %s: use the short volume syntax (got %T)", name, v)
				continue
			}
			parts := strings.Split(s, ":")
			if len(parts) < 2 {
				t.Errorf("docker-compose.yml: %s: volume %q has no container path", name, s)
				continue
			}
			src := parts[0]
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("docker-compose.yml: %s mounts %s: %v", name, src, err)
				}
				mounted[parts[1]] = src
			} else if _, ok := named[src]; !ok {
				t.Errorf("docker-compose.yml: %s uses volume %s, not declared under volumes:", name, src)
			}
		}
		cmd := stringsOf(list(svc, "command"))
		for i, a := range cmd {
			if a != "--config" || i+1 == len(cmd) {
				continue
			}
			src, ok := mounted[cmd[i+1]]
			if !ok {
				t.Errorf("docker-compose.yml: %s reads %s, which is not mounted", name, cmd[i+1])
				continue
			}
			daemon := daemonOf(src)
			if daemon == "" || daemon != cmd[0] {
				t.Errorf("docker-compose.yml: %s runs %s with the config %s", name, cmd[0], src)
				continue
			}
			if configs[filepath.Base(src)] == nil {
				t.Errorf("docker-compose.yml: %s mounts %s, which is not a daemon config in compose/", name, src)
				continue
			}
			// The service listens where its config says, and publishes that port.
			_, port, _ := strings.Cut(str(configs[filepath.Base(src)], "listen"), ":")
			for _, p := range list(svc, "ports") {
				s := fmt.Sprint(p)
				if !strings.HasSuffix(s, ":"+port) {
					t.Errorf("docker-compose.yml: %s publishes %s, but listens on %s", name, s, port)
				}
			}
			if hc := strings.Join(stringsOf(list(svc, "healthcheck", "test")), " "); !strings.Contains(hc, ":"+port+"/healthz") {
				t.Errorf("docker-compose.yml: %s healthcheck %q does not probe :%s/healthz", name, hc, port)
			}
		}
	}
	// The keys service generates the log key for the origin the server signs.
	origin := str(configs["htlog-server.yaml"], "origin")
	if got := str(c.services["keys"], "environment", "ORIGIN"); got != origin {
		t.Errorf("docker-compose.yml: keys generates a log key for origin %q, htlog-server.yaml signs %q", got, origin)
	}
}
