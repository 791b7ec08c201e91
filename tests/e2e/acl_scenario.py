"""Access control (rocketmq:acl) in a running cluster: turned on under traffic, who may send and
consume (through the brokers and, with ACL 2.0, the proxies), a password changed by `up` without
restarting a broker, the admin moved to another name (ACL 2.0), and no password in plaintext in
any host's journal or RocketMQ logs, the engine's output and logs, or the state. RocketMQ 5's
ACL 2.0 and 4.9.x's ACL 1.0 (plain_acl.yml)."""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.acl_settings import FORMER_ADMINS, PLAIN_ACL_FILE, TOOLS_YML
from components.config_acl import DEFAULT_ADMIN_USER
from tests.e2e.cluster_harness import PulumiStack, create_topic, places_holding, wait_until
from tests.e2e.scale_scenario import RunningCluster
from tests.e2e.testhosts import Host, TestNetwork
from tests.e2e.traffic import Credentials, client, consume, produce, sdk_refused, sdk_round_trip

# How long a consumer that may read nothing waits for a message, once started. The admin's read of
# the same shape must succeed within it: 8 s was once too short for that beside another
# lifecycle (a fresh-clone run of 76922a3: controllers of their own beside single-master).
REFUSED_TIMEOUT_SECONDS = 20
SDK_GROUP = "e2e-sdk"


def _password() -> str:
    return "p" + secrets.token_urlsafe(18)  # never a leading -, which the program refuses


@dataclass(frozen=True)
class AclUsers:
    """The lifecycle's users: an admin (every right), an application that sends to and reads the
    topic with its group, and a publisher that may only send to it."""

    topic: str
    group: str
    admin_password: str
    passwords: dict[str, str]
    whole_names_only: bool = False  # ACL 1.0 (4.9.x) grants no prefixes
    admin_user: str = DEFAULT_ADMIN_USER

    @classmethod
    def make(cls, topic: str, group: str, *, whole_names_only: bool = False) -> AclUsers:
        names = ("e2e-ops", "e2e-app", "e2e-pub")  # 7 characters: ACL 1.0 wants more than 6
        return cls(topic, group, _password(), {name: _password() for name in names}, whole_names_only)

    def grants(self) -> dict[str, Any]:
        """rocketmq:aclUsers without the passwords (set apart, as secrets)."""
        return {
            "e2e-ops": {"admin": True},
            "e2e-app": {
                "topics": {self.topic: "PUB|SUB", self.sdk_topic: "PUB|SUB"},
                "groups": {self.group: "SUB", SDK_GROUP: "SUB"},
            },
            "e2e-pub": {"topics": {self.check_topic if self.whole_names_only else f"{self.topic}_*": "PUB"}},
        }

    def configure(self, stack: PulumiStack, acl: bool | str = True) -> None:
        stack.set_config({"acl": acl, "aclUsers": self.grants()})
        stack.set_secret("aclAdminPassword", self.admin_password)
        if self.admin_user != DEFAULT_ADMIN_USER:
            stack.set_config({"aclAdminUser": self.admin_user})
        for name, password in self.passwords.items():
            stack.set_secret(f"aclUsers.{name}.password", password, path=True)

    @property
    def check_topic(self) -> str:
        """The topic the access checks send to; the publisher may send to it by a prefix grant
        (by name with ACL 1.0)."""
        return f"{self.topic}_ACL"

    @property
    def sdk_topic(self) -> str:
        """The topic RocketMQ 5's SDK sends to and reads through the proxy, as the application."""
        return f"{self.topic}_SDK"

    def as_user(self, name: str) -> Credentials:
        return name, self.passwords[name]

    def with_new_password(self, stack: PulumiStack, name: str) -> AclUsers:
        """Gives ``name`` a new password in the stack config (for the next `up`)."""
        changed = dataclasses.replace(self, passwords={**self.passwords, name: _password()})
        stack.set_secret(f"aclUsers.{name}.password", changed.passwords[name], path=True)
        return changed

    @property
    def admin(self) -> Credentials:
        """The program's admin, as a client may sign with it."""
        return self.admin_user, self.admin_password

    def with_new_admin(self, stack: PulumiStack, name: str) -> AclUsers:
        """Moves the program's admin to ``name``, with a new password, in the stack config."""
        changed = dataclasses.replace(self, admin_user=name, admin_password=_password())
        stack.set_config({"aclAdminUser": name})
        stack.set_secret("aclAdminPassword", changed.admin_password)
        return changed

    def with_new_admin_password(self, stack: PulumiStack) -> AclUsers:
        """Gives the admin a new password in the stack config (which the next `up` refuses)."""
        changed = dataclasses.replace(self, admin_password=_password())
        stack.set_secret("aclAdminPassword", changed.admin_password)
        return changed


@dataclass(frozen=True)
class Clients:
    """RocketMQ's Java client in the control namespace, against one cluster."""

    net: TestNetwork
    classpath: str
    namesrv: str

    def sends(self, topic: str, credentials: Credentials | None) -> bool:
        result = client(self.net, self.classpath, "produce", self.namesrv, topic, "3", credentials=credentials)
        return result.returncode == 0 and "SENT 3 0" in result.stdout

    def read(self, topic: str, group: str, credentials: Credentials | None) -> subprocess.CompletedProcess[str]:
        """A new consumer of ``group`` waiting REFUSED_TIMEOUT_SECONDS for a message of ``topic``
        (started once: a refused start is an answer here, not a hiccup to ride out); exit 0: it got one."""
        args = ["consume", self.namesrv, topic, group, "1", str(REFUSED_TIMEOUT_SECONDS)]
        return client(self.net, self.classpath, *args, credentials=credentials, start_attempts=1)

    def reads(self, topic: str, group: str, credentials: Credentials | None) -> bool:
        return self.read(topic, group, credentials).returncode == 0


# Where the program keeps the admin's password on every host, and a broker's merged config.
CREDENTIAL_FILES = (
    "/etc/rocketmq/broker-auth.conf",
    "/etc/rocketmq/proxy-auth.json",
    TOOLS_YML,
)


def check_acl_1_0_files(net: TestNetwork, hosts: Sequence[Host], broker_hosts: Sequence[Host]) -> None:
    """mqadmin's key on every host, the users file on the broker hosts: the rocketmq user's alone."""
    for host in hosts:
        files = [TOOLS_YML, *([PLAIN_ACL_FILE] if host in broker_hosts else [])]
        listing = net.ssh(host, f"sudo -n stat -c '%a %U %n' {' '.join(files)}", check=True).stdout
        assert listing.split("\n")[: len(files)] == [f"600 rocketmq {path}" for path in files], f"{host}: {listing}"


def check_credential_files(net: TestNetwork, hosts: list[Host], broker_hosts: list[Host]) -> None:
    """The credentials are the rocketmq user's alone, on every host; a broker's merged config too."""
    for host in hosts:
        listing = net.ssh(host, f"sudo -n stat -c '%a %U %n' {' '.join(CREDENTIAL_FILES)}", check=True).stdout
        assert listing.split("\n")[:3] == [f"600 rocketmq {path}" for path in CREDENTIAL_FILES], f"{host}: {listing}"
    for host in broker_hosts:
        merged = net.ssh(
            host, "sudo -n stat -c '%a %U' /run/rocketmq-broker /run/rocketmq-broker/broker.conf", check=True
        )
        assert merged.stdout.split("\n")[:2] == ["700 rocketmq", "600 rocketmq"], f"{host}: {merged.stdout}"


def check_who_may_do_what(clients: Clients, users: AclUsers) -> None:
    """Sends and reads of users.check_topic, as nobody, as the publisher and as the admin."""
    topic, group = users.check_topic, users.group
    assert not clients.sends(topic, None), "a client without credentials could send"
    assert not clients.reads(topic, group, None), "a client without credentials could read"
    assert clients.sends(topic, users.as_user("e2e-pub")), "the publisher could not send"
    assert not clients.reads(topic, "e2e-pub-readers", users.as_user("e2e-pub")), (
        "the publisher, who may only send, could read"
    )
    ops = users.as_user("e2e-ops")
    # The same short read, as the admin: the refusals above are refusals, not a reader too slow.
    control = clients.read(topic, "e2e-ops-probe", ops)
    assert control.returncode == 0, (
        f"the admin could not read within the refusals' time:\n{control.stdout[-1500:]}{control.stderr[-1500:]}"
    )
    produce(clients.net, clients.classpath, clients.namesrv, topic, 10, credentials=ops)
    # The admin reads every message of the topic: the publisher's 3 and its own 10.
    consume(clients.net, clients.classpath, clients.namesrv, topic, group="e2e-ops-readers", count=13, credentials=ops)


def check_proxy_checks_clients(clients: Clients, endpoints: list[str], users: AclUsers) -> None:
    """Through the proxies, RocketMQ 5's SDK works as the application and is refused without credentials."""
    topic = users.sdk_topic
    trip = sdk_round_trip(
        clients.net, endpoints, topic, group=SDK_GROUP, count=50, credentials=users.as_user("e2e-app")
    )
    assert (trip.sent, trip.failed, trip.received) == (50, 0, 50), trip.output
    sdk_refused(clients.net, endpoints, topic, group=SDK_GROUP, credentials=None)


def check_changed_password(clients: Clients, topic: str, before: AclUsers, after: AclUsers, user: str) -> None:
    """After the `up` that applied ``after``: ``user``'s new password works, the old one no longer."""
    assert clients.sends(topic, after.as_user(user)), f"{user}'s new password is refused"
    assert not clients.sends(topic, before.as_user(user)), f"{user}'s old password still works"


def passwords_in_plaintext(net: TestNetwork, stack: PulumiStack, *users: AclUsers) -> list[str]:
    """Where any password any of ``users`` had shows in plaintext (nowhere, we expect)."""
    every = {password for each in users for password in (each.admin_password, *each.passwords.values())}
    return places_holding(net, net.hosts, stack, *sorted(every))


def acl_turned_on_under_traffic(
    cluster: RunningCluster, *, hosts: Sequence[Host], broker_hosts: Sequence[Host], proxy_endpoints: list[str]
) -> AclUsers:
    """Access control turned on for a running cluster as the README says, in two `up`s, while the
    steady traffic signs as a declared user (e2e-ops, whom the users steps make): `acl: prepare`
    restarts every broker once with users and grants in place and nothing checked, then `acl:
    true` restarts them once more, now checking. One broker down at a time, nothing lost, no send
    failed or refused. Then the users' rights hold through the brokers and through the proxies
    (with rocketmq:proxy local, those inside the brokers, which ask their own broker)."""
    users = AclUsers.make("E2E_ACL", "e2e-acl")
    users.configure(cluster.stack, acl="prepare")
    signed = dataclasses.replace(cluster, credentials=users.as_user("e2e-ops"))
    net, probe, namesrv = cluster.net, cluster.probe, cluster.namesrv
    clients = Clients(net, cluster.classpath, namesrv)
    for value in ("prepare", True):
        pids = cluster.broker_pids()
        signed.change(f"acl: {value}", {"acl": value}).check(most_down=1)
        restarted = cluster.broker_pids()
        assert all(restarted[address] not in (0, pid) for address, pid in pids.items()), (pids, restarted)
        if value == "prepare":
            open_topic = users.topic + "_OPEN"
            for topic in (users.check_topic, users.sdk_topic, open_topic):
                create_topic(net, probe, namesrv, "DefaultCluster", topic)  # mqadmin signs as the program's admin
            assert clients.sends(open_topic, None), "acl: prepare refused a client without credentials"
    check_credential_files(net, list(hosts), list(broker_hosts))
    check_who_may_do_what(clients, users)
    check_proxy_checks_clients(clients, proxy_endpoints, users)
    assert passwords_in_plaintext(net, cluster.stack, users) == [], "an ACL password shows in plaintext"
    return users


def acl_1_0_turned_on_under_traffic(
    cluster: RunningCluster,
    *,
    hosts: Sequence[Host],
    broker_hosts: Sequence[Host],
    slave_hosts: Sequence[Host] = (),
) -> None:
    """ACL 1.0 (4.9.x) turned on for a running cluster in one `up`, while the steady traffic signs as
    a declared user (e2e-ops, in the users file the hosts get before any broker restarts): every
    broker restarts once, one at a time, nothing lost, no send failed or refused. Then the users'
    rights hold, and changed passwords (a user's and the program's admin's) are in force when `up`
    ends, with no broker restarted (the brokers read the file again by themselves). mqadmin runs on
    a host without a broker, whose address the users file does not trust: it signs as the admin.
    Each of ``slave_hosts`` copies a topic made after that from its master: a 4.9.x slave signs
    nothing it asks its master, and is let in by its address (the users file's
    globalWhiteRemoteAddresses)."""
    users = AclUsers.make("E2E_ACL", "e2e-acl", whole_names_only=True)
    users.configure(cluster.stack, acl=True)
    signed = dataclasses.replace(cluster, credentials=users.as_user("e2e-ops"))
    net, namesrv = cluster.net, cluster.namesrv
    admin_host = next(host for host in hosts if host not in broker_hosts)
    clients = Clients(net, cluster.classpath, namesrv)
    pids = cluster.broker_pids()
    signed.change("acl: true (ACL 1.0)", {"acl": True}).check(most_down=1)
    restarted = cluster.broker_pids()
    assert all(restarted[address] not in (0, pid) for address, pid in pids.items()), (pids, restarted)
    check_acl_1_0_files(net, hosts, broker_hosts)
    create_topic(net, admin_host, namesrv, "DefaultCluster", users.check_topic)
    for slave in slave_hosts:
        wait_until(
            lambda slave=slave: users.check_topic in _stored_topics(net, slave),
            90,
            f"the slave on {slave} to copy {users.check_topic} from its master",
        )
    check_who_may_do_what(clients, users)

    changed = users.with_new_password(cluster.stack, "e2e-pub").with_new_admin_password(cluster.stack)
    cluster.stack.up()
    assert cluster.broker_pids() == restarted, "a password change restarted a broker"
    check_changed_password(clients, users.check_topic, users, changed, "e2e-pub")
    admin = (DEFAULT_ADMIN_USER, changed.admin_password)
    assert clients.sends(users.check_topic, admin), "the admin's new password is refused"
    assert not clients.sends(users.check_topic, (DEFAULT_ADMIN_USER, users.admin_password)), (
        "the admin's old password still works"
    )
    create_topic(net, admin_host, namesrv, "DefaultCluster", users.topic + "_AFTER")  # mqadmin, with the new one
    assert passwords_in_plaintext(net, cluster.stack, users, changed) == [], "an ACL password shows in plaintext"


def _stored_topics(net: TestNetwork, host: Host) -> str:
    """The topics file of the broker on ``host``, in the store its broker.conf names."""
    store = "$(awk -F= '$1 == \"storePathRootDir\" { print $2 }' /etc/rocketmq/broker.conf)"
    return net.ssh(host, f'sudo -n sh -c "cat {store}/config/topics.json"').stdout


def admin_moved_under_traffic(
    cluster: RunningCluster,
    users: AclUsers,
    *,
    hosts: Sequence[Host],
    broker_hosts: Sequence[Host],
    proxy_endpoints: list[str],
) -> AclUsers:
    """The admin's password changed as the README says on 5.x: by a move to an admin of another
    name, in one `up`, while the steady traffic runs. Each broker restarts once (one at a time,
    nothing lost, no send failed or refused); then the new admin works, from clients and from
    mqadmin on the hosts, the former one is refused everywhere, and the proxies inside the
    brokers still check the application's clients (they ask their broker as the new admin)."""
    net, probe, namesrv, stack = cluster.net, cluster.probe, cluster.namesrv, cluster.stack
    signed = dataclasses.replace(cluster, credentials=users.as_user("e2e-ops"))
    pids = cluster.broker_pids()
    moved = users.with_new_admin(stack, "e2e-admin-2")
    signed.change("the admin moved to another name", {}).check(most_down=1)
    restarted = cluster.broker_pids()
    assert all(restarted[address] not in (0, pid) for address, pid in pids.items()), (pids, restarted)
    clients = Clients(net, cluster.classpath, namesrv)
    assert clients.sends(users.check_topic, moved.admin), "the new admin is refused"
    assert not clients.sends(users.check_topic, users.admin), "the former admin still works"
    for host in hosts:
        listing = net.ssh(host, f"sudo -n grep -c \"^accessKey: '{moved.admin_user}'$\" {TOOLS_YML}").stdout
        assert listing.strip() == "1", f"{host}: mqadmin does not sign as {moved.admin_user}"
    for host in broker_hosts:
        assert net.ssh(host, f"sudo -n test -e {FORMER_ADMINS}").returncode != 0, f"{host} still lists former admins"
    create_topic(net, probe, namesrv, "DefaultCluster", users.topic + "_MOVED")  # mqadmin, as the new admin
    check_proxy_checks_clients(clients, proxy_endpoints, moved)
    assert passwords_in_plaintext(net, stack, users, moved) == [], "an ACL password shows in plaintext"
    return moved
