package dev.midlayer.cli.perftest;

import dev.midlayer.verbs.WorkCompletion;

/**
 * A benchmark run that cannot go on: a completion with a status other than SUCCESS, a refused post, a
 * stall. The command prints the message on stderr and exits with code 1.
 */
final class PerftestException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  PerftestException(String message) {
    super(message);
  }

  PerftestException(String message, Throwable cause) {
    super(message, cause);
  }

  /** A failed work completion, named with where it was polled. */
  static PerftestException failed(String where, WorkCompletion wc) {
    return new PerftestException(where + ": work completion failed: status " + wc.status() + ", wr_id "
        + wc.wrId() + ", QP " + wc.qpNum() + ", vendor_err " + wc.vendorErr());
  }
}
