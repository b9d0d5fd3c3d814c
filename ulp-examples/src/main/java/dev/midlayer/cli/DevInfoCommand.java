package dev.midlayer.cli;

import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.ib.DeviceCapFlags;
import dev.midlayer.ib.PortAttributes;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer devinfo}: registers loopback devices and prints what the midlayer reports, with
 * {@code ibv_devinfo}'s options: {@code -d} one device by name, {@code -i} one port, {@code -l} the names only,
 * {@code -v} the device limits and capabilities ({@code device_cap_flags} with the flags' names,
 * {@code atomic_cap}), each port's ({@code max_msg_sz}, {@code port_cap_flags}, {@code pkey_tbl_len},
 * {@code gid_tbl_len}, {@code active_width}, {@code active_speed}, {@code phys_state}) and its GIDs, in
 * {@code ibv_devinfo}'s formats and order (rdma-core's {@code libibverbs/examples/devinfo.c}); without
 * {@code -v}, only the fields {@code ibv_devinfo} prints without it (and the {@code driver} line). An unknown
 * device or port is a usage error (exit code 2); no device at all prints "No IB devices found" on stderr and
 * exits 1, as {@code ibv_devinfo} fails.
 */
@Command(name = "devinfo", mixinStandardHelpOptions = true,
    description = "Register loopback devices and print their attributes and ports, like ibv_devinfo.")
public final class DevInfoCommand implements Callable<Integer> {
  /** The most loopback devices devinfo registers. */
  static final int MAX_DEVICES = 64;
  /** The most ports of a loopback device ({@code LoopbackFabric.addDevice}). */
  static final int MAX_PORTS = 255;

  @Spec
  CommandSpec spec;

  @Option(names = "--devices", defaultValue = "2", paramLabel = "N",
      description = "Loopback devices to register, 0.." + MAX_DEVICES + " (default ${DEFAULT-VALUE}).")
  int devices;

  @Option(names = {"-p", "--ports"}, defaultValue = "1", paramLabel = "N",
      description = "Ports per loopback device, 1.." + MAX_PORTS + " (default ${DEFAULT-VALUE}).")
  int ports;

  @Option(names = {"-d", "--ib-dev"}, paramLabel = "DEVICE",
      description = "Print only this device (default: all), e.g. lo0.")
  String ibDev;

  @Option(names = {"-i", "--ib-port"}, paramLabel = "PORT", description = "Print only this port (default: all).")
  Integer ibPort;

  @Option(names = {"-l", "--list"}, description = "Print only the device names.")
  boolean list;

  @Option(names = {"-v", "--verbose"},
      description = "Also print the device limits and capabilities, each port's link and its GID table.")
  boolean verbose;

  @Override
  public Integer call() throws Exception {
    Bounds.check(spec, "--devices", devices, 0, MAX_DEVICES);
    Bounds.check(spec, "--ports", ports, 1, MAX_PORTS);
    if (ibPort != null) {
      Bounds.check(spec, "--ib-port", ibPort, 1, ports, "phys_port_cnt");
    }
    // The loopback devices get the names lo0, lo1, ... in order: a wrong name is refused before they exist.
    if (ibDev != null && !loopbackNames().contains(ibDev)) {
      throw new ParameterException(spec.commandLine(), "--ib-dev '" + ibDev + "': no such device (devices: "
          + (devices == 0 ? "none" : String.join(", ", loopbackNames())) + ")");
    }
    PrintWriter out = spec.commandLine().getOut();
    ActorSystem<Void> system = MidlayerCli.startSystem();
    try {
      LoopbackFabric fabric = LoopbackFabric.create(system);
      for (int i = 0; i < devices; i++) {
        fabric.addDevice("lo%d", ports).toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
      List<Device> shown = new ArrayList<>();
      for (Device device : fabric.midlayer().devices()) {
        if (ibDev == null || ibDev.equals(device.name())) {
          shown.add(device);
        }
      }
      if (list) {
        out.printf("%d HCA%s found:%n", shown.size(), shown.size() == 1 ? "" : "s");
        for (Device device : shown) {
          out.printf("\t%s%n", device.name());
        }
        out.flush();
        return 0;
      }
      if (shown.isEmpty()) {
        PrintWriter err = spec.commandLine().getErr();
        err.println("No IB devices found");
        err.flush();
        return 1;
      }
      for (Device device : shown) {
        print(out, device, ibPort == null ? 0 : ibPort, verbose, verbose);
      }
      out.flush();
      return 0;
    } finally {
      MidlayerCli.stopSystem(system);
    }
  }

  private List<String> loopbackNames() {
    List<String> names = new ArrayList<>();
    for (int i = 0; i < devices; i++) {
      names.add("lo" + i);
    }
    return names;
  }

  /**
   * Prints a device in ibv_devinfo's layout, querying each port through the midlayer: every port, or only
   * {@code onlyPort} if it is not 0; the device limits if {@code verbose}; the GID tables if {@code gids}.
   * <b>May sleep</b> (the query verbs); not from a midlayer callback.
   */
  static void print(PrintWriter out, Device device, int onlyPort, boolean verbose, boolean gids) throws Exception {
    DeviceAttributes a = device.queryDevice().toCompletableFuture().get(10, TimeUnit.SECONDS);
    out.printf("hca_id:\t%s%n", device.name());
    out.printf("\ttransport:\t\t\tInfiniBand (0)%n");
    out.printf("\tdriver:\t\t\t\t%s%n", device.driverName());
    out.printf("\tfw_ver:\t\t\t\t%s%n", a.firmwareVersion());
    out.printf("\tnode_guid:\t\t\t%s%n", guid(a.nodeGuid()));
    out.printf("\tsys_image_guid:\t\t\t%s%n", guid(a.systemImageGuid()));
    out.printf("\tvendor_id:\t\t\t0x%04x%n", a.vendorId());
    out.printf("\tvendor_part_id:\t\t\t%d%n", a.vendorPartId());
    out.printf("\thw_ver:\t\t\t\t0x%X%n", a.hardwareVersion());
    out.printf("\tphys_port_cnt:\t\t\t%d%n", a.physPortCount());
    if (verbose) {
      // devinfo.c's order. The fields of ibv_device_attr the midlayer does not report (max_sge_rd, max_ee_*,
      // max_mw, max_mcast_*, max_pkeys, ...) are left out; the two it reports beyond them come last.
      out.printf("\tmax_mr_size:\t\t\t0x%x%n", a.maxMrSize());
      out.printf("\tpage_size_cap:\t\t\t0x%x%n", a.pageSizeCap());
      out.printf("\tmax_qp:\t\t\t\t%d%n", a.maxQp());
      out.printf("\tmax_qp_wr:\t\t\t%d%n", a.maxQpWr());
      out.printf("\tdevice_cap_flags:\t\t0x%08x%n", a.deviceCapFlags());
      for (String flag : DeviceCapFlags.names(a.deviceCapFlags())) {
        out.printf("\t\t\t\t\t%s%n", flag);
      }
      if (DeviceCapFlags.unknown(a.deviceCapFlags()) != 0) {
        out.printf("\t\t\t\t\tUnknown flags: 0x%X%n", DeviceCapFlags.unknown(a.deviceCapFlags()));
      }
      out.printf("\tmax_sge:\t\t\t%d%n", a.maxSge());
      out.printf("\tmax_cq:\t\t\t\t%d%n", a.maxCq());
      out.printf("\tmax_cqe:\t\t\t%d%n", a.maxCqe());
      out.printf("\tmax_mr:\t\t\t\t%d%n", a.maxMr());
      out.printf("\tmax_pd:\t\t\t\t%d%n", a.maxPd());
      out.printf("\tmax_qp_rd_atom:\t\t\t%d%n", a.maxQpRdAtom());
      out.printf("\tmax_qp_init_rd_atom:\t\t%d%n", a.maxQpInitRdAtom());
      out.printf("\tatomic_cap:\t\t\t%s (%d)%n", a.atomicCap(), a.atomicCap().value());
      out.printf("\tmax_ah:\t\t\t\t%d%n", a.maxAh());
      out.printf("\tmax_fmr:\t\t\t%d%n", a.maxFmr());
      if (a.maxFmr() != 0) {
        out.printf("\tmax_map_per_fmr:\t\t%d%n", a.maxMapPerFmr());
      }
      out.printf("\tmax_srq:\t\t\t%d%n", a.maxSrq());
      if (a.maxSrq() != 0) {
        out.printf("\tmax_srq_wr:\t\t\t%d%n", a.maxSrqWr());
        out.printf("\tmax_srq_sge:\t\t\t%d%n", a.maxSrqSge());
      }
      out.printf("\tmax_fast_reg_page_list_len:\t%d%n", a.maxFastRegPageListLen());
      out.printf("\tmax_inline_data:\t\t%d%n", a.maxInlineData());
    }
    for (int p = 1; p <= a.physPortCount(); p++) {
      if (onlyPort != 0 && p != onlyPort) {
        continue;
      }
      PortAttributes port = device.queryPort(p).toCompletableFuture().get(10, TimeUnit.SECONDS);
      out.printf("\t\tport:\t%d%n", p);
      out.printf("\t\t\tstate:\t\t\tPORT_%s (%d)%n", port.state(), port.state().value());
      out.printf("\t\t\tmax_mtu:\t\t%d (%d)%n", port.maxMtu().bytes(), port.maxMtu().value());
      out.printf("\t\t\tactive_mtu:\t\t%d (%d)%n", port.activeMtu().bytes(), port.activeMtu().value());
      out.printf("\t\t\tsm_lid:\t\t\t%d%n", port.smLid());
      out.printf("\t\t\tport_lid:\t\t%d%n", port.lid());
      out.printf("\t\t\tport_lmc:\t\t0x%02x%n", port.lmc());
      out.printf("\t\t\tlink_layer:\t\t%s%n", port.linkLayer() == dev.midlayer.ib.LinkLayer.INFINIBAND
          ? "InfiniBand" : "Ethernet");
      if (verbose) {
        out.printf("\t\t\tmax_msg_sz:\t\t0x%x%n", port.maxMsgSize());
        out.printf("\t\t\tport_cap_flags:\t\t0x%08x%n", port.portCapFlags());
        out.printf("\t\t\tpkey_tbl_len:\t\t%d%n", port.pkeyTableLength());
        out.printf("\t\t\tgid_tbl_len:\t\t%d%n", port.gids().size());
        out.printf("\t\t\tactive_width:\t\t%s (%d)%n", port.activeWidth().label(), port.activeWidth().value());
        out.printf("\t\t\tactive_speed:\t\t%s (%d)%n", port.activeSpeed().label(), port.activeSpeed().value());
        // ibv_devinfo prints it for IB transport devices, which every midlayer device is (transport above).
        out.printf("\t\t\tphys_state:\t\t%s (%d)%n", port.physState().label(), port.physState().value());
      }
      if (gids) {
        for (int g = 0; g < port.gids().size(); g++) {
          out.printf("\t\t\tGID[%3d]:\t\t%s%n", g, port.gids().get(g));
        }
      }
    }
    out.println();
  }

  private static String guid(long v) {
    return String.format("%04x:%04x:%04x:%04x", (v >>> 48) & 0xffff, (v >>> 32) & 0xffff,
        (v >>> 16) & 0xffff, v & 0xffff);
  }
}
