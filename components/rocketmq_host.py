"""RocketMqHost: one machine made ready for RocketMQ (JDK, user, OS tuning, verified release)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pulumi
from pulumi_command import remote

from components.acl_rendering import render_credentials_script
from components.config_model import AclSettings, ReleaseSettings, TlsSettings
from components.firewall_rules import FirewallRule, render_firewall_script
from components.remote import HostEndpoint, root_script
from components.rendering import DELETE_FROM_STDIN, render_install_script, render_prepare_script
from components.tls_certificates import HostCertificate, StackCa, fingerprint
from components.tls_rendering import HostTlsFiles, render_tls_script
from components.topology import PlannedHost


@dataclass(frozen=True)
class RocketMqHostArgs:
    endpoint: HostEndpoint
    connection: remote.ConnectionArgs
    release: ReleaseSettings
    store_path: str
    planned: PlannedHost
    # The mirror to download from when it is decided at deploy time (target local), else release.mirror.
    mirror: pulumi.Input[str] | None = None
    # What the host's firewall (firewalld or ufw, when active) lets in; None: the program leaves it alone.
    firewall_rules: tuple[FirewallRule, ...] | None = None
    # rocketmq:acl: the admin's credentials, which the brokers and mqadmin on this host need, and
    # what they are written after: the resource whose check refuses an admin the brokers cannot
    # move to, and every broker's step that makes a new admin (components/acl_admin_rotation.py).
    acl: AclSettings | None = None
    acl_after: Sequence[pulumi.Resource] = ()
    # ACL 1.0 (4.9.x) on a broker host: the brokers' addresses, which its plain_acl.yml lets in.
    acl_trusted_addresses: pulumi.Input[Sequence[str]] | None = None
    # rocketmq:tls: the cluster's mode (mqadmin follows it), and with permissive or enforcing the CA
    # that signs this host's certificate.
    tls: TlsSettings | None = None
    tls_ca: StackCa | None = None
    # rocketmq:tlsCertificates: the host's own (certificate, private key), instead of one tls_ca signs.
    tls_own_certificate: tuple[str, str] | None = None


class RocketMqHost(pulumi.ComponentResource):
    """Prepares the host (opens its firewall to its roles' traffic, writes the ACL credentials and
    the TLS certificate), then downloads, verifies and unpacks the release.

    `installed` is what services on this host depend on."""

    def __init__(self, name: str, args: RocketMqHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:Host", name, None, opts)
        self.key = args.endpoint.key
        self.planned = args.planned
        self.connection = args.connection
        self.private_address: pulumi.Output[str] = pulumi.Output.from_input(args.endpoint.private_address)
        # Every script on this host (here and in the services) reruns on a replaced machine.
        self.machine_triggers: list[pulumi.Input[str]] = (
            [args.endpoint.machine_id] if args.endpoint.machine_id is not None else []
        )
        # ACL 2.0: brokers and proxies read the admin's credentials at start; the credentials step
        # marks those running older ones, so their rolling restarts run again for another admin.
        self._admin_trigger: list[pulumi.Input[str]] = (
            [f"acl-admin {args.acl.admin_user}"] if args.acl is not None and args.acl.model == 2 else []
        )

        endpoint = args.endpoint
        prepare_script = pulumi.Output.from_input(endpoint.data_volume_id).apply(
            lambda volume_id: render_prepare_script(
                self.key,
                args.release,
                args.store_path,
                volume_id,
                authorized_key=(endpoint.user, endpoint.authorized_key) if endpoint.authorized_key else None,
            )
        )
        self.prepared = root_script(
            f"{name}-prepare",
            args.connection,
            prepare_script,
            parent=self,
            depends_on=endpoint.ready_after,
            triggers=self.machine_triggers,
        )
        before_install: list[pulumi.Resource] = [self.prepared]
        if args.firewall_rules is not None:
            before_install.append(
                root_script(
                    f"{name}-firewall",
                    args.connection,
                    render_firewall_script(self.key, args.firewall_rules),
                    parent=self,
                    depends_on=[self.prepared],
                    delete=DELETE_FROM_STDIN,
                    triggers=self.machine_triggers,
                )
            )
        if args.acl is not None:
            # The only step here that holds a password: its script goes to the host as a secret.
            acl = args.acl
            credentials = pulumi.Output.from_input(args.acl_trusted_addresses).apply(
                lambda trusted: render_credentials_script(self.key, acl, trusted_addresses=trusted)
            )
            before_install.append(
                root_script(
                    f"{name}-acl-credentials",
                    args.connection,
                    pulumi.Output.secret(credentials),
                    parent=self,
                    depends_on=[self.prepared, *args.acl_after],
                    delete=DELETE_FROM_STDIN,
                    triggers=self.machine_triggers,
                )
            )
        # The fingerprint of the CA the services' own TLS connections trust ("" without TLS).
        self.trusted_ca: pulumi.Output[str] = pulumi.Output.from_input("")
        if args.tls_ca is not None:
            before_install.append(self._tls_files(name, args, args.tls_ca))
            self.trusted_ca = pulumi.Output.from_input(args.tls_ca.certificate).apply(fingerprint)
        plain_acl = args.acl is not None and args.acl.model == 1
        install_script: pulumi.Input[str] = render_install_script(
            self.key, args.release, plain_acl=plain_acl, tls=args.tls
        )
        if args.mirror is not None:
            install_script = pulumi.Output.from_input(args.mirror).apply(
                lambda mirror: render_install_script(
                    self.key, replace(args.release, mirror=mirror), plain_acl=plain_acl, tls=args.tls
                )
            )
        self.installed = root_script(
            f"{name}-install",
            args.connection,
            install_script,
            parent=self,
            depends_on=before_install,
            triggers=self.machine_triggers,
        )
        self.register_outputs({"privateAddress": self.private_address, "version": args.release.version})

    def restart_triggers(self, role: str) -> list[pulumi.Input[str]]:
        """What reruns the rolling restart of `role` on this host (with its configure script's digest)."""
        return [*self.machine_triggers, *(self._admin_trigger if role in ("broker", "proxy") else [])]

    def _tls_files(self, name: str, args: RocketMqHostArgs, ca: StackCa) -> remote.Command:
        """The host's certificate (its own, or one the CA signs for every address clients may use),
        and the step that writes it; the step holds its private key, so its script goes to the host
        as a secret."""
        own = args.tls_own_certificate
        if own is not None:
            pems = pulumi.Output.all(ca.certificate, own[0], own[1])
        else:
            if ca.private_key is None:
                raise ValueError(f"host {self.key}: no certificate of its own, and no CA key to sign one")
            certificate = HostCertificate(
                f"{name}-tls-cert",
                host=self.key,
                addresses=pulumi.Output.all(args.endpoint.ssh_host, args.endpoint.private_address),
                ca_certificate=ca.certificate,
                ca_key=ca.private_key,
                opts=pulumi.ResourceOptions(parent=self),
            )
            pems = pulumi.Output.all(ca.certificate, certificate.certificate, certificate.private_key)
        script = pems.apply(lambda values: render_tls_script(self.key, HostTlsFiles(values[0], values[1], values[2])))
        return root_script(
            f"{name}-tls",
            args.connection,
            pulumi.Output.secret(script),
            parent=self,
            depends_on=[self.prepared],
            delete=DELETE_FROM_STDIN,
            triggers=self.machine_triggers,
        )
