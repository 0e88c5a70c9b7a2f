package io.xendisk.storage.nbd;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The TLS side of an {@code nbds://} URI, read as libnbd reads it (and with
 * the file names GnuTLS, nbdkit and QEMU use):
 * <ul>
 * <li>{@code tls-certificates=DIR}: {@code DIR/ca-cert.pem} holds the CAs the
 * server's certificate must chain to (without it, or without the parameter,
 * the JDK's trusted CAs); {@code DIR/client-cert.pem} and
 * {@code DIR/client-key.pem}, when there, are the client's certificate for
 * servers that ask for one (the key in PKCS#8 or PKCS#1 PEM);</li>
 * <li>{@code tls-hostname=NAME}: the name the certificate must be for, and
 * the name sent to the server (SNI); by default a TCP URI's host, and for
 * a Unix socket none (then only the chain is checked);</li>
 * <li>{@code tls-verify-peer=false}: no check of the server at all (the
 * connection is encrypted, not authenticated), as libnbd allows.</li>
 * </ul>
 * Pre-shared keys ({@code tls-type=psk}, {@code tls-psk-file}) are refused:
 * the JDK's TLS has no PSK cipher suites.
 */
final class NbdTls {
    static final String CA = "ca-cert.pem";
    static final String CLIENT_CERT = "client-cert.pem";
    static final String CLIENT_KEY = "client-key.pem";
    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]+?)\\s*-----END \\1-----");
    /** DER of PKCS#8's AlgorithmIdentifier for rsaEncryption (1.2.840.113549.1.1.1, NULL parameters). */
    private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86,
        (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

    private NbdTls() {
    }

    /**
     * A client engine for {@code uri}'s server, as its parameters say.
     *
     * @throws NbdException a parameter asks for what is not supported, or a certificate or key cannot be read
     */
    static SSLEngine engine(NbdUri uri) throws NbdException {
        String type = uri.parameters().getOrDefault("tls-type", "x509").toLowerCase(Locale.ROOT);
        if (type.equals("psk") || uri.parameters().containsKey("tls-psk-file")) {
            throw new NbdException("TLS with a pre-shared key (tls-type=psk, tls-psk-file) cannot open " + uri
                    + ": Java's TLS has no PSK cipher suites; serve the export with X.509 certificates"
                    + " (nbdkit --tls-certificates=DIR, qemu-nbd --object tls-creds-x509,...) and give the CA in"
                    + " tls-certificates=DIR (DIR/" + CA + ")");
        }
        if (!type.equals("x509")) {
            throw new NbdException("tls-type=" + type + " in " + uri + " is not x509 or psk");
        }
        boolean verify = verifyPeer(uri);
        String dir = uri.parameters().get("tls-certificates");
        Path certificates = dir == null || dir.isEmpty() ? null : Path.of(dir);
        String hostname = uri.parameters().get("tls-hostname");
        if (hostname == null || hostname.isEmpty()) {
            hostname = uri.isUnix() ? null : uri.host();
        }
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keyManagers(uri, certificates), trustManagers(uri, certificates, verify), null);
            SSLEngine engine = hostname == null ? context.createSSLEngine()
                    : context.createSSLEngine(hostname, uri.isUnix() ? -1 : uri.port());
            engine.setUseClientMode(true);
            SSLParameters p = engine.getSSLParameters();
            if (verify && hostname != null) {
                p.setEndpointIdentificationAlgorithm("HTTPS");
            }
            if (hostname != null && !literalAddress(hostname)) {
                p.setServerNames(List.of(new SNIHostName(hostname)));
            }
            engine.setSSLParameters(p);
            return engine;
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new NbdException("cannot set up TLS for " + uri + ": " + e.getMessage());
        }
    }

    private static boolean verifyPeer(NbdUri uri) throws NbdException {
        String v = uri.parameters().getOrDefault("tls-verify-peer", "true").toLowerCase(Locale.ROOT);
        return switch (v) {
            case "true", "1", "yes", "on", "" -> true;
            case "false", "0", "no", "off" -> false;
            default -> throw new NbdException("tls-verify-peer=" + v + " in " + uri + " is not true or false");
        };
    }

    private static boolean literalAddress(String host) {
        return host.contains(":") || host.matches("[0-9.]+");
    }

    private static TrustManager[] trustManagers(NbdUri uri, Path dir, boolean verify)
            throws GeneralSecurityException, NbdException {
        if (!verify) {
            return new TrustManager[] {TRUST_ANY};
        }
        Path ca = dir == null ? null : dir.resolve(CA);
        if (ca == null || !Files.exists(ca)) {
            return null; // the JDK's trusted CAs
        }
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        try {
            store.load(null, null);
        } catch (IOException e) {
            throw new GeneralSecurityException(e);
        }
        List<X509Certificate> cas = certificates(uri, ca);
        for (int i = 0; i < cas.size(); i++) {
            store.setCertificateEntry("ca-" + i, cas.get(i));
        }
        TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        f.init(store);
        return f.getTrustManagers();
    }

    private static KeyManager[] keyManagers(NbdUri uri, Path dir) throws GeneralSecurityException, NbdException {
        if (dir == null) {
            return null;
        }
        Path cert = dir.resolve(CLIENT_CERT);
        Path key = dir.resolve(CLIENT_KEY);
        boolean hasCert = Files.exists(cert);
        if (hasCert != Files.exists(key)) {
            throw new NbdException("tls-certificates=" + dir + " of " + uri + " holds " + (hasCert ? CLIENT_CERT
                    + " but not " + CLIENT_KEY : CLIENT_KEY + " but not " + CLIENT_CERT) + "; a client certificate"
                    + " needs both (or neither, for a server that asks for none)");
        }
        if (!hasCert) {
            return null;
        }
        List<X509Certificate> chain = certificates(uri, cert);
        KeyStore store = KeyStore.getInstance("PKCS12");
        try {
            store.load(null, null);
        } catch (IOException e) {
            throw new GeneralSecurityException(e);
        }
        store.setKeyEntry("client", privateKey(uri, key), new char[0], chain.toArray(new Certificate[0]));
        KeyManagerFactory f = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        f.init(store, new char[0]);
        return f.getKeyManagers();
    }

    private static List<X509Certificate> certificates(NbdUri uri, Path pem) throws NbdException {
        try (InputStream in = Files.newInputStream(pem)) {
            List<X509Certificate> certs = new ArrayList<>();
            for (Certificate c : java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                certs.add((X509Certificate) c);
            }
            if (certs.isEmpty()) {
                throw new NbdException(pem + " (for " + uri + ") holds no certificate");
            }
            return certs;
        } catch (IOException | GeneralSecurityException e) {
            throw new NbdException("cannot read the certificates in " + pem + " (for " + uri + "): " + e.getMessage());
        }
    }

    /** A PEM private key: PKCS#8 ("PRIVATE KEY", RSA, EC or EdDSA) or PKCS#1 ("RSA PRIVATE KEY"). */
    static PrivateKey privateKey(NbdUri uri, Path pem) throws NbdException {
        String text;
        try {
            text = Files.readString(pem, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new NbdException(pem + " (for " + uri + ") does not exist");
        } catch (IOException e) {
            throw new NbdException("cannot read " + pem + " (for " + uri + "): " + e.getMessage());
        }
        Matcher m = PEM.matcher(text);
        if (!m.find()) {
            throw new NbdException(pem + " (for " + uri + ") holds no PEM private key");
        }
        String kind = m.group(1);
        byte[] der = Base64.getMimeDecoder().decode(m.group(2));
        byte[] pkcs8 = switch (kind) {
            case "PRIVATE KEY" -> der;
            case "RSA PRIVATE KEY" -> pkcs8OfRsa(der);
            default -> throw new NbdException(pem + " (for " + uri + ") holds a " + kind + ", which is not read"
                    + " here; convert it to an unencrypted PKCS#8 key: openssl pkcs8 -topk8 -nocrypt -in "
                    + pem + " -out " + pem);
        };
        for (String algorithm : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            } catch (GeneralSecurityException e) {
                // the next algorithm
            }
        }
        throw new NbdException(pem + " (for " + uri + ") holds a private key of no algorithm known here (RSA,"
                + " EC, Ed25519, Ed448)");
    }

    /** PKCS#1's RSAPrivateKey wrapped in PKCS#8's PrivateKeyInfo (version 0, rsaEncryption). */
    private static byte[] pkcs8OfRsa(byte[] pkcs1) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(new byte[] {0x02, 0x01, 0x00});
        body.writeBytes(RSA_ALGORITHM);
        body.write(0x04);
        derLength(body, pkcs1.length);
        body.writeBytes(pkcs1);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x30);
        derLength(out, body.size());
        out.writeBytes(body.toByteArray());
        return out.toByteArray();
    }

    private static void derLength(ByteArrayOutputStream out, int n) {
        if (n < 0x80) {
            out.write(n);
            return;
        }
        int bytes = (32 - Integer.numberOfLeadingZeros(n) + 7) / 8;
        out.write(0x80 | bytes);
        for (int i = bytes - 1; i >= 0; i--) {
            out.write(n >>> (8 * i));
        }
    }

    /** tls-verify-peer=false: every server is taken at its word. */
    private static final X509ExtendedTrustManager TRUST_ANY = new X509ExtendedTrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    };
}
