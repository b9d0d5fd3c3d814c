package dev.midlayer.cli.perftest;

import dev.midlayer.ib.WrOpcode;
import picocli.CommandLine.Command;

/** {@code midlayer perftest atomic_bw}: {@code ib_atomic_bw} on the loopback fabric (or across JVMs with --fabric cluster); see {@link OneSidedBwCommand}. */
@Command(name = "atomic_bw", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Atomic FETCH_AND_ADD (8 bytes) bandwidth test (ib_atomic_bw) over RC QP pairs on the loopback fabric (or across JVMs with --fabric cluster); no receives, the server side only provides "
        + "registered target memory.",
        "Columns: #bytes #iterations BW peak[MiB/sec] BW average[MiB/sec] MsgRate[Mpps] (aggregate over all QPs).",
        "-n counts WRs in all, not per QP; every -Q-th WR is signaled; --warmup WRs run first, unmeasured."})
final class AtomicBwCommand extends OneSidedBwCommand {
  @Override
  String test() {
    return "atomic_bw";
  }

  @Override
  WrOpcode opcode() {
    return WrOpcode.ATOMIC_FETCH_AND_ADD;
  }
}
