package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/trillian"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// dialTrillian connects to trillian_log_server at trillian.address, over
// TLS when trillian.tls is set (the server then runs with --tls_cert_file
// and --tls_key_file), in clear otherwise, and proves the link with one
// cheap call, so that a certificate problem is reported at start in words
// an operator can act on.
func dialTrillian(ctx context.Context, cfg *Config, logger *slog.Logger) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	tc, err := cfg.Trillian.TLS.Config("trillian.tls", logger)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		creds = credentials.NewTLS(tc)
	}
	conn, err := grpc.NewClient(cfg.Trillian.Address, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("trillian.address: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = trillian.NewTrillianAdminClient(conn).ListTrees(ctx, &trillian.ListTreesRequest{})
	if err == nil {
		return conn, nil
	}
	conn.Close()
	if status.Code(err) != codes.Unavailable {
		return nil, fmt.Errorf("trillian_log_server at %s answered ListTrees with: %w", cfg.Trillian.Address, err)
	}
	if tc != nil {
		return nil, fmt.Errorf("couldn't connect to trillian_log_server at %s over TLS (is it running with --tls_cert_file and --tls_key_file, and does its certificate chain to trillian.tls.ca_file and carry trillian.tls.server_name?): %w", cfg.Trillian.Address, err)
	}
	return nil, fmt.Errorf("couldn't connect to trillian_log_server at %s (is it running? if it serves TLS, set trillian.tls): %w", cfg.Trillian.Address, err)
}
