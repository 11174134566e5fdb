// The credentials of the nodes' own gRPC (Raft, the controller service, replica fetching,
// transaction markers, metadata describe): the server's for the controller listener and the one
// every internal client dials its peers with. Built once from the config and passed down; nothing
// else creates gRPC credentials.
//
// The controller listener's ssl.* settings are used as a whole Node secure context (key and
// certificate chain from PEM or PKCS12, an encrypted key's password, the truststore, the TLS
// versions of ssl.enabled.protocols), on both sides: grpc-js's createSsl takes only PEM buffers
// and no TLS versions, so the server credentials are grpc-js's documented ServerCredentials
// extension point fed those options, and the clients' are createFromSecureContext.
//
// Renewed keystore and truststore files are taken without a restart (replaceTls, driven by the
// controller listener's TlsFileReloader): the server credentials hand the new options to grpc-js,
// which replaces its TLS server's secure context, and the channel credentials build each new
// connection's TLS from the newest context. Connections already open keep their session.

import {
  checkServerIdentity,
  createSecureContext,
  type PeerCertificate,
  type SecureContextOptions,
} from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { ControllerListenerTls } from '../config/controller-listener-tls.js';
import type { ListenerTls } from '../config/listener-tls.js';

export interface InternalGrpcCredentials {
  /** For binding the controller listener. */
  readonly server: grpc.ServerCredentials;
  /** For every internal client: the same keystore, so a node presents its certificate (mTLS). */
  readonly channel: grpc.ChannelCredentials;
  /** For the start-up log: what protects the nodes' gRPC (never the secrets). */
  readonly description: string;
  /**
   * New keystore and truststore (the files were renewed): new connections, served and dialled, use
   * them. Absent for PLAINTEXT.
   */
  readonly replaceTls?: (fresh: ListenerTls) => void;
}

/** PLAINTEXT controller listener: no encryption, no authentication (local development). */
export const plaintextInternalCredentials: InternalGrpcCredentials = Object.freeze({
  server: grpc.ServerCredentials.createInsecure(),
  channel: grpc.credentials.createInsecure(),
  description: 'PLAINTEXT',
});

/** TLS server credentials from a secure context's options, with Node's client-certificate checks. */
class SecureContextServerCredentials extends grpc.ServerCredentials {
  constructor(secureContext: SecureContextOptions, requireClientCertificate: boolean) {
    // requestCert with Node's default rejectUnauthorized: a client without a certificate the
    // truststore vouches for fails the handshake itself, before any call is read.
    super({ requestCert: requireClientCertificate, rejectUnauthorized: true }, secureContext);
  }

  /** grpc-js applies it to its TLS server (setSecureContext): the next handshakes use it. */
  replace(secureContext: SecureContextOptions): void {
    this.updateSecureContextOptions(secureContext);
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/**
 * Channel credentials whose TLS context can be replaced: grpc-js makes one connector per
 * subchannel and reuses it for every reconnect, so each connect asks the newest credentials for a
 * connector of its own, and a peer reconnecting after a renewal sees the new certificate.
 */
class ReplaceableChannelCredentials extends grpc.ChannelCredentials {
  private current: grpc.ChannelCredentials;

  constructor(
    secureContext: SecureContextOptions,
    private readonly verifyOptions: grpc.VerifyOptions,
  ) {
    super();
    this.current = grpc.credentials.createFromSecureContext(
      createSecureContext(secureContext),
      verifyOptions,
    );
  }

  replace(secureContext: SecureContextOptions): void {
    this.current = grpc.credentials.createFromSecureContext(
      createSecureContext(secureContext),
      this.verifyOptions,
    );
  }

  _isSecure(): boolean {
    return true;
  }

  _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(
    ...[channelTarget, options, callCredentials]: Parameters<
      grpc.ChannelCredentials['_createSecureConnector']
    >
  ): ReturnType<grpc.ChannelCredentials['_createSecureConnector']> {
    const forThisConnect = () => this.current._createSecureConnector(channelTarget, options, callCredentials);
    const first = forThisConnect();
    return {
      connect: (socket) => forThisConnect().connect(socket),
      waitForReady: () => first.waitForReady(),
      getCallCredentials: () => first.getCallCredentials(),
      destroy: () => first.destroy(),
    };
  }
}

const noHostnameCheck = (_host: string, _certificate: PeerCertificate): Error | undefined => undefined;

export function internalGrpcCredentials(tls: ControllerListenerTls | undefined): InternalGrpcCredentials {
  if (tls === undefined) return plaintextInternalCredentials;
  const { secureContext, clientAuth, description } = tls.tls;
  const server = new SecureContextServerCredentials(secureContext, clientAuth === 'required');
  const channel = new ReplaceableChannelCredentials(secureContext, {
    checkServerIdentity: tls.verifyPeerHostname ? checkServerIdentity : noHostnameCheck,
  });
  return {
    server,
    channel,
    replaceTls: (fresh) => {
      server.replace(fresh.secureContext);
      channel.replace(fresh.secureContext);
    },
    description:
      `SSL (${description}, ssl.client.auth=${clientAuth}, ` +
      `peer hostname ${tls.verifyPeerHostname ? 'verified' : 'not verified'})`,
  };
}
