package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.testkit.MidlayerExtension;
import dev.midlayer.testkit.MidlayerTestKit;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import picocli.CommandLine;

@ExtendWith(MidlayerExtension.class)
class DevInfoCommandTest {

  @Test
  void devinfoPrintsWhatTheMidlayerReportsForEachPort(MidlayerTestKit kit) throws Exception {
    LoopbackDevice lo = kit.addDevice("di%d", 2);
    lo.linkDown(2);
    StringWriter text = new StringWriter();
    DevInfoCommand.print(new PrintWriter(text), lo.device(), 0, true, true);
    String s = text.toString();
    assertTrue(s.startsWith("hca_id:\tdi0"), s);
    assertTrue(s.contains("phys_port_cnt:\t\t\t2"), s);
    assertTrue(s.contains("state:\t\t\tPORT_DOWN (1)"), s);
    assertTrue(s.contains("port_lid:\t\t" + lo.lid(2)), s);
    assertTrue(s.contains("GID[  0]:\t\t" + lo.gid(1)), s);
    assertTrue(s.contains("max_qp:\t\t\t\t65536"), s);
    assertTrue(s.contains("max_msg_sz:\t\t0x800000"), s);
    assertTrue(s.contains("gid_tbl_len:\t\t1"), s);
    kit.removeDevice(lo);
  }

  @Test
  @DisplayName("-v: device_cap_flags with its names, atomic_cap, and each port's caps and link, as ibv_devinfo -v")
  void verbosePrintsTheCapabilitiesAndTheLinkAsIbvDevinfoDoes(MidlayerTestKit kit) throws Exception {
    LoopbackDevice lo = kit.addDevice("dv%d", 2);
    lo.linkDown(2);
    StringWriter text = new StringWriter();
    DevInfoCommand.print(new PrintWriter(text), lo.device(), 0, true, true);
    String s = text.toString().replace(System.lineSeparator(), "\n");
    // What the software drivers advertise (SoftLimits), in ibv_devinfo's formats (rdma-core devinfo.c).
    assertTrue(s.contains("\tmax_qp_wr:\t\t\t16384\n"
        + "\tdevice_cap_flags:\t\t0x00201c80\n"
        + "\t\t\t\t\tCURR_QP_STATE_MOD\n"
        + "\t\t\t\t\tPORT_ACTIVE_EVENT\n"
        + "\t\t\t\t\tSYS_IMAGE_GUID\n"
        + "\t\t\t\t\tRC_RNR_NAK_GEN\n"
        + "\t\t\t\t\tMEM_MGT_EXTENSIONS\n"
        + "\tmax_sge:\t\t\t32\n"), s);
    assertFalse(s.contains("Unknown flags"), s);
    assertTrue(s.contains("\tmax_qp_init_rd_atom:\t\t128\n\tatomic_cap:\t\t\tATOMIC_GLOB (2)\n"), s);
    assertTrue(s.contains("\tmax_srq:\t\t\t4096\n\tmax_srq_wr:\t\t\t16384\n\tmax_srq_sge:\t\t\t32\n"), s);
    assertTrue(s.contains("\t\tport:\t1\n"
        + "\t\t\tstate:\t\t\tPORT_ACTIVE (4)\n"
        + "\t\t\tmax_mtu:\t\t4096 (5)\n"
        + "\t\t\tactive_mtu:\t\t4096 (5)\n"
        + "\t\t\tsm_lid:\t\t\t1\n"
        + "\t\t\tport_lid:\t\t" + lo.lid(1) + "\n"
        + "\t\t\tport_lmc:\t\t0x00\n"
        + "\t\t\tlink_layer:\t\tInfiniBand\n"
        + "\t\t\tmax_msg_sz:\t\t0x800000\n"
        + "\t\t\tport_cap_flags:\t\t0x00010000\n"
        + "\t\t\tpkey_tbl_len:\t\t1\n"
        + "\t\t\tgid_tbl_len:\t\t1\n"
        + "\t\t\tactive_width:\t\t4X (2)\n"
        + "\t\t\tactive_speed:\t\t25.0 Gbps (32)\n"
        + "\t\t\tphys_state:\t\tLINK_UP (5)\n"
        + "\t\t\tGID[  0]:\t\t" + lo.gid(1) + "\n"), s);
    assertTrue(s.contains("\t\t\tstate:\t\t\tPORT_DOWN (1)\n"), s);
    assertTrue(s.contains("\t\t\tphys_state:\t\tPOLLING (2)\n"), "port 2's link was taken down: " + s);
    kit.removeDevice(lo);
  }

  @Test
  void listPrintsTheNamesAsIbvDevinfoDoes() {
    Run r = run("--devices", "3", "-l");
    assertEquals(0, r.exit, r.err);
    assertEquals("3 HCAs found:\n\tlo0\n\tlo1\n\tlo2\n", r.out.replace(System.lineSeparator(), "\n"));
  }

  @Test
  void oneDeviceAndOnePortWithoutGidsUnlessVerbose() {
    Run r = run("--devices", "2", "-p", "2", "-d", "lo1", "-i", "2");
    assertEquals(0, r.exit, r.err);
    assertTrue(r.out.startsWith("hca_id:\tlo1"), r.out);
    assertFalse(r.out.contains("lo0"), r.out);
    assertTrue(r.out.contains("port:\t2") && !r.out.contains("port:\t1"), r.out);
    assertFalse(r.out.contains("GID["), "GIDs only with -v: " + r.out);
    assertFalse(r.out.contains("max_qp"), r.out);
    // ibv_devinfo prints these only with -v (devinfo.c's "if (verbose)" blocks).
    List<String> verboseOnly = List.of("max_mr_size:", "device_cap_flags:", "MEM_MGT_EXTENSIONS", "atomic_cap:",
        "max_msg_sz:", "port_cap_flags:", "pkey_tbl_len:", "gid_tbl_len:", "active_width:", "active_speed:",
        "phys_state:");
    for (String field : verboseOnly) {
      assertFalse(r.out.contains(field), field + " only with -v: " + r.out);
    }
    Run v = run("--devices", "1", "-v");
    assertTrue(v.out.contains("GID[  0]:") && v.out.contains("max_qp:"), v.out);
    for (String field : verboseOnly) {
      assertTrue(v.out.contains(field), field + " with -v: " + v.out);
    }
  }

  @Test
  void noDeviceFailsAsIbvDevinfoDoes() {
    Run r = run("--devices", "0");
    assertEquals(1, r.exit);
    assertEquals("No IB devices found", r.err.strip());
    assertEquals("", r.out);
  }

  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = MidlayerCli.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int exit = cmd.execute(prepend("devinfo", args));
    return new Run(exit, out.toString(), err.toString());
  }

  private static String[] prepend(String first, String[] rest) {
    String[] all = new String[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }
}
