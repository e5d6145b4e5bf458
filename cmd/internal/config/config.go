// Package config loads a daemon's configuration: a YAML file (--config),
// HTLOG_* environment variables and command-line flags, in increasing order
// of precedence, decoded into the daemon's typed Config struct and validated.
// viper lives here and in cmd/ only; packages below receive plain structs.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Validator is a config struct that can check itself. Validate returns an
// error naming the offending key, such as `listen: must be host:port, got "80"`.
type Validator interface {
	Validate() error
}

// Load fills out from the YAML file named by the --config flag (if set), then
// HTLOG_* environment variables (HTLOG_DATABASE_DSN sets database.dsn), then
// the flags in fs that were set on the command line (a flag's name is its key,
// e.g. --listen or --database.dsn). Keys that out does not have are errors,
// naming the key and the file. Finally out.Validate is called.
func Load(fs *pflag.FlagSet, out Validator) error {
	v := viper.New()
	v.SetEnvPrefix("HTLOG")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	// Every key of the struct is bound so that environment variables apply
	// even when the file does not mention the key.
	for _, key := range keysOf(reflect.TypeOf(out), "") {
		if err := v.BindEnv(key); err != nil {
			return err
		}
	}
	file := ""
	if f := fs.Lookup("config"); f != nil {
		file = f.Value.String()
	}
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("config file %s: %w", file, err)
		}
	}
	var bindErr error
	fs.Visit(func(f *pflag.Flag) { // only the flags set: an unset flag's zero default must not hide the daemon's own default
		if f.Name != "config" && bindErr == nil {
			bindErr = v.BindPFlag(f.Name, f)
		}
	})
	if bindErr != nil {
		return bindErr
	}
	err := v.Unmarshal(out, func(c *mapstructure.DecoderConfig) {
		c.ErrorUnused = true
		c.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	})
	if err != nil {
		where := "configuration"
		if file != "" {
			where = "config file " + file
		}
		return fmt.Errorf("%s: %s", where, cleanDecodeError(err))
	}
	return out.Validate()
}

// keysOf lists the dotted keys of a struct's mapstructure tags.
func keysOf(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "" && opts == "squash" {
			keys = append(keys, keysOf(f.Type, prefix)...) // an embedded section's keys are the parent's
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			keys = append(keys, keysOf(f.Type, key+".")...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

// cleanDecodeError turns mapstructure's multi-line error into one line.
func cleanDecodeError(err error) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "decoding failed due to the following error(s):", "")
	msg = strings.ReplaceAll(msg, "\n", " ")
	msg = strings.ReplaceAll(msg, "'' has invalid keys:", "unknown keys:")
	return strings.TrimSpace(msg)
}

// CheckListen checks that key's value is a host:port that is free to listen on.
func CheckListen(key, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: must be host:port, got %q", key, addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %s is not free (%v); stop the other process or change %s", key, addr, errors.Unwrap(err), key)
	}
	return l.Close()
}

// CheckPrivateKeyFile checks that key names a readable file that only its
// owner can read, and returns its contents with surrounding space trimmed.
func CheckPrivateKeyFile(key, path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s: required (a private key file; create one with `htlog keygen`)", key)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: key file %s: %v; create it with `htlog keygen`", key, path, errors.Unwrap(err))
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s: key file %s has mode %04o, readable by others; chmod 600 it", key, path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: couldn't read %s: %v", key, path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ReadPublicFile returns the trimmed contents of a public file (a vkey, a policy).
func ReadPublicFile(key, path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s: required", key)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: couldn't read %s: %v", key, path, errors.Unwrap(err))
	}
	return strings.TrimSpace(string(b)), nil
}

// CheckPositive checks a duration is above zero.
func CheckPositive(key string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s: must be a positive duration such as 1s, got %v", key, d)
	}
	return nil
}
