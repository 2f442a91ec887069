/**
 * Certificates for the TLS tests, made with `openssl` (Debian's `openssl` package; CI installs
 * it): a throwaway CA, a server certificate it signed for `localhost` and `127.0.0.1`, and a key
 * of another pair (a key that does not match the certificate).
 *
 * @module
 */

/** The files {@link makeTestCertificates} writes. */
export interface TestCertificates {
  /** The CA's certificate: what clients trust (`curl --cacert`). */
  caFile: string;
  /** The server's certificate (PEM), signed by the CA. */
  certFile: string;
  /** The server's private key (PEM, PKCS#8, unencrypted). */
  keyFile: string;
  /** A private key of another pair. */
  otherKeyFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const output = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

/**
 * Makes the CA, the server's certificate and a stray key in `dir` (valid for one day).
 * @throws when `openssl` is missing or fails.
 */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(
    ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=sequencer test CA"]
      .concat(["-days", "1", "-addext", "basicConstraints=critical,CA:TRUE"]),
    dir,
  );
  await openssl(
    ["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
    dir,
  );
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"]
      .concat(["-out", "server.crt", "-days", "1", "-extfile", "server.ext"]),
    dir,
  );
  await openssl(
    ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
      .concat(["-out", "other.key"]),
    dir,
  );
  return {
    caFile: `${dir}/ca.crt`,
    certFile: `${dir}/server.crt`,
    keyFile: `${dir}/server.key`,
    otherKeyFile: `${dir}/other.key`,
  };
}
