// A minimal containerd-stargz-grpc built from Debian's stargz-snapshotter 0.12 library, for bench/service.ts:
// Debian ships only the reference CLI (/usr/bin/ctr-remote) and its `service` package needs k8s.io/cri-api,
// which Debian lacks. This wires what service.NewStargzSnapshotterService does — fs.NewFilesystem +
// snapshot.NewSnapshotter (AsynchronousRemove) — behind containerd's contrib/snapshotservice on a unix
// socket. Registry hosts are built as the reference's resolver.RegistryHostsFromConfig does (a
// go-retryablehttp client, 30 s request timeout, plain HTTP for localhost/127.0.0.1), without mirrors or
// keychains. The config file (-config) is the reference's top-level TOML (noprefetch, no_background_fetch,
// prefetch_size, [blob], [fuse], ...); keys of other sections are ignored. Layout under -root as the
// reference: <root>/snapshotter (metadata.db, snapshots/<id>/fs FUSE mounts) and <root>/stargz (cache).
//
//	containerd-stargz-grpc -address /run/containerd-stargz-grpc/containerd-stargz-grpc.sock \
//	    -root /var/lib/containerd-stargz-grpc [-config config.toml] [-log-level info]
//
// SIGINT/SIGTERM: stop serving, then Close() the snapshotter (which unmounts every layer).
// Build: bench/reference-snapshotter/build.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/contrib/snapshotservice"
	"github.com/containerd/containerd/log"
	"github.com/containerd/containerd/reference"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/overlay/overlayutils"
	stargzfs "github.com/containerd/stargz-snapshotter/fs"
	fsconfig "github.com/containerd/stargz-snapshotter/fs/config"
	"github.com/containerd/stargz-snapshotter/fs/layer"
	"github.com/containerd/stargz-snapshotter/fs/source"
	snbase "github.com/containerd/stargz-snapshotter/snapshot"
	rhttp "github.com/hashicorp/go-retryablehttp"
	"github.com/pelletier/go-toml"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
)

// Same as the reference resolver's defaultRequestTimeoutSec.
const requestTimeout = 30 * time.Second

// registryHosts mirrors resolver.RegistryHostsFromConfig with an empty config and no credentials: one host,
// the image's own, over a retrying client whose Transport is real (fs/remote calls Client.Transport.RoundTrip
// directly, so the http.Client{} of docker.ConfigureDefaultRegistries would panic on a nil Transport).
func registryHosts(ref reference.Spec) ([]docker.RegistryHost, error) {
	client := rhttp.NewClient()
	client.Logger = nil
	std := client.StandardClient()
	std.Timeout = requestTimeout
	host := docker.RegistryHost{
		Client:       std,
		Host:         ref.Hostname(),
		Scheme:       "https",
		Path:         "/v2",
		Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve,
		Authorizer:   docker.NewDockerAuthorizer(docker.WithAuthClient(std)),
	}
	if local, _ := docker.MatchLocalhost(host.Host); local {
		host.Scheme = "http"
	}
	if host.Host == "docker.io" {
		host.Host = "registry-1.docker.io"
	}
	return []docker.RegistryHost{host}, nil
}

// loadConfig reads the filesystem part of the reference's config file (its top-level keys); "" = defaults.
func loadConfig(path string) (fsconfig.Config, error) {
	var cfg fsconfig.Config
	if path == "" {
		return cfg, nil
	}
	tree, err := toml.LoadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if err := tree.Unmarshal(&cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

func newSnapshotter(ctx context.Context, root string, cfg fsconfig.Config) (snapshots.Snapshotter, error) {
	snRoot := filepath.Join(root, "snapshotter")
	if err := os.MkdirAll(snRoot, 0700); err != nil {
		return nil, err
	}
	opq := layer.OverlayOpaqueTrusted
	if userxattr, err := overlayutils.NeedsUserXAttr(snRoot); err != nil {
		log.G(ctx).WithError(err).Warnf("cannot detect whether \"userxattr\" is needed, assuming %v", userxattr)
	} else if userxattr {
		opq = layer.OverlayOpaqueUser
	}
	fs, err := stargzfs.NewFilesystem(filepath.Join(root, "stargz"), cfg,
		stargzfs.WithGetSources(source.FromDefaultLabels(registryHosts)),
		stargzfs.WithOverlayOpaqueType(opq))
	if err != nil {
		return nil, fmt.Errorf("filesystem: %w", err)
	}
	return snbase.NewSnapshotter(ctx, snRoot, fs, snbase.AsynchronousRemove)
}

func main() {
	address := flag.String("address", "/run/containerd-stargz-grpc/containerd-stargz-grpc.sock", "gRPC unix socket")
	root := flag.String("root", "/var/lib/containerd-stargz-grpc", "state directory")
	configPath := flag.String("config", "", "config file (the reference's TOML; empty = defaults)")
	logLevel := flag.String("log-level", "info", "debug, info, warn, error")
	flag.Parse()

	lvl, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	logrus.SetLevel(lvl)
	logrus.SetFormatter(&logrus.JSONFormatter{TimestampFormat: log.RFC3339NanoFixed})
	ctx := log.WithLogger(context.Background(), log.L)

	cfg, err := loadConfig(*configPath)
	if err != nil {
		log.G(ctx).WithError(err).Fatal("failed to load config")
	}
	sn, err := newSnapshotter(ctx, *root, cfg)
	if err != nil {
		log.G(ctx).WithError(err).Fatal("failed to create snapshotter")
	}

	if err := os.MkdirAll(filepath.Dir(*address), 0700); err != nil {
		log.G(ctx).WithError(err).Fatal("failed to create socket directory")
	}
	if err := os.RemoveAll(*address); err != nil {
		log.G(ctx).WithError(err).Fatal("failed to remove old socket")
	}
	l, err := net.Listen("unix", *address)
	if err != nil {
		log.G(ctx).WithError(err).Fatal("failed to listen")
	}
	rpc := grpc.NewServer()
	snapshotsapi.RegisterSnapshotsServer(rpc, snapshotservice.FromSnapshotter(sn))

	errCh := make(chan error, 1)
	go func() { errCh <- rpc.Serve(l) }()
	log.G(ctx).WithField("address", *address).WithField("root", *root).Info("serving")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.G(ctx).Infof("got %v, shutting down", s)
	case err := <-errCh:
		log.G(ctx).WithError(err).Error("gRPC server stopped")
	}
	rpc.Stop()
	if err := sn.Close(); err != nil { // unmounts every remote layer
		log.G(ctx).WithError(err).Warn("failed to close the snapshotter")
	}
	log.G(ctx).Info("exit")
}
