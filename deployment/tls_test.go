package deployment_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestKubernetesTLS checks the manifests' TLS wiring (docs/operations.md,
// "TLS"): the Ingress terminates TLS for every host it routes, with a
// Secret, to Services and ports that exist; a daemon or Trillian server
// that serves TLS is probed over HTTPS; every URL one daemon calls another
// with is https://; htlog-server dials Trillian with TLS exactly when
// trillian_log_server serves it.
func TestKubernetesTLS(t *testing.T) {
	k := loadK8s(t)
	if len(k.byKind["Ingress"]) == 0 {
		t.Fatal("no Ingress")
	}
	for name, ing := range k.byKind["Ingress"] {
		var tlsHosts []string
		for _, tl := range list(ing.v, "spec", "tls") {
			if str(tl, "secretName") == "" {
				t.Errorf("Ingress %s: a tls entry has no secretName", name)
			}
			tlsHosts = append(tlsHosts, stringsOf(list(tl, "hosts"))...)
		}
		for _, rule := range list(ing.v, "spec", "rules") {
			if h := str(rule, "host"); !slices.Contains(tlsHosts, h) {
				t.Errorf("Ingress %s: host %q is routed without TLS", name, h)
			}
			for _, p := range list(rule, "http", "paths") {
				svcName := str(p, "backend", "service", "name")
				svc, ok := k.byKind["Service"][svcName]
				if !ok {
					t.Errorf("Ingress %s: backend Service %q is not defined", name, svcName)
					continue
				}
				port := str(p, "backend", "service", "port", "name")
				found := false
				for _, sp := range list(svc.v, "spec", "ports") {
					found = found || str(sp, "name") == port
				}
				if !found {
					t.Errorf("Ingress %s: Service %s has no port named %q", name, svcName, port)
				}
			}
		}
	}

	configs := map[string]map[string]any{} // daemon -> its configuration
	for _, cm := range k.byKind["ConfigMap"] {
		for key, data := range mapping(cm.v, "data") {
			if d := daemonOf(key); d != "" {
				var v map[string]any
				if err := yaml.Unmarshal([]byte(fmt.Sprint(data)), &v); err != nil {
					t.Fatal(err)
				}
				configs[d] = v
			}
		}
	}
	trillianTLS := false
	for _, w := range k.workloads() {
		for _, c := range containers(w, false) {
			cmd := stringsOf(list(c, "command"))
			if len(cmd) == 0 {
				continue
			}
			serves := false
			if cfg, ok := configs[cmd[0]]; ok {
				serves = str(cfg, "tls", "cert_file") != ""
			}
			if cmd[0] == "trillian_log_server" {
				args := containerArgs([]map[string]any{c})
				_, serves = args["--tls_cert_file"]
				trillianTLS = serves
			}
			want := "HTTP"
			if serves {
				want = "HTTPS"
			}
			for _, probe := range []string{"readinessProbe", "livenessProbe"} {
				if mapping(c, probe, "httpGet") == nil {
					continue
				}
				scheme := str(c, probe, "httpGet", "scheme")
				if scheme == "" {
					scheme = "HTTP"
				}
				if scheme != want {
					t.Errorf("%v: %s: %s probes over %s, want %s", w, cmd[0], probe, scheme, want)
				}
			}
		}
	}
	for d, cfg := range configs {
		var urls []string
		urls = append(urls, str(cfg, "log", "url"), str(cfg, "log")) // the gateway's log is a URL
		for _, m := range list(cfg, "monitors") {
			urls = append(urls, str(m, "url"))
		}
		for _, key := range []string{"witnesses", "peers", "webhooks"} {
			urls = append(urls, stringsOf(list(cfg, key))...)
		}
		for _, l := range list(cfg, "logs") {
			urls = append(urls, str(l, "url"))
		}
		for _, u := range urls {
			if u != "" && !strings.HasPrefix(u, "https://") {
				t.Errorf("%s calls %s in clear", d, u)
			}
		}
	}
	if dials := str(configs["htlog-server"], "trillian", "tls", "ca_file") != ""; dials != trillianTLS {
		t.Errorf("htlog-server dials Trillian with TLS: %v; trillian_log_server serves TLS: %v", dials, trillianTLS)
	}
}
