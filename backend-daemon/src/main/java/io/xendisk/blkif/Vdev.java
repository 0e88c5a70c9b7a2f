package io.xendisk.blkif;

/**
 * Virtual device names and numbers (xen-vbd-interface(7), libxl's
 * libxl__device_disk_dev_number): "xvdb" is device id 51728, the last path
 * component of both xenstore directories and the frontend's virtual-device.
 */
public final class Vdev {
    private static final int XVD_MAJOR = 202;

    private Vdev() {
    }

    /**
     * The device id of {@code xvdX[N]}, {@code hdX[N]}, {@code sdX[N]}, {@code dDpP}
     * or a plain number. Throws IllegalArgumentException naming the value when
     * it is none of them.
     */
    public static int devid(String vdev) {
        String v = vdev.trim();
        if (!v.isEmpty() && v.chars().allMatch(Character::isDigit)) {
            long n = Long.parseLong(v.length() > 10 ? "99999999999" : v);
            if (n <= 0 || n > Integer.MAX_VALUE) {
                throw bad(vdev);
            }
            return (int) n;
        }
        String prefix;
        if (v.startsWith("xvd")) {
            prefix = "xvd";
        } else if (v.startsWith("hd")) {
            prefix = "hd";
        } else if (v.startsWith("sd")) {
            prefix = "sd";
        } else if (v.matches("d\\d+(p\\d+)?")) {
            int p = v.indexOf('p');
            int disk = Integer.parseInt(p < 0 ? v.substring(1) : v.substring(1, p));
            int part = p < 0 ? 0 : Integer.parseInt(v.substring(p + 1));
            return xvd(disk, part, vdev);
        } else {
            throw bad(vdev);
        }
        String rest = v.substring(prefix.length());
        int i = 0;
        int disk = 0;
        while (i < rest.length() && rest.charAt(i) >= 'a' && rest.charAt(i) <= 'z') {
            disk = disk * 26 + (rest.charAt(i) - 'a' + 1); // bijective base 26: a=1 .. z=26, aa=27
            if (disk > (1 << 20)) {
                throw bad(vdev);
            }
            i++;
        }
        if (i == 0) {
            throw bad(vdev);
        }
        disk -= 1;
        int part = 0;
        if (i < rest.length()) {
            String ps = rest.substring(i);
            if (!ps.matches("[1-9]\\d{0,2}")) {
                throw bad(vdev);
            }
            part = Integer.parseInt(ps);
        }
        switch (prefix) {
            case "xvd":
                return xvd(disk, part, vdev);
            case "hd":
                if (disk > 3 || part > 63) {
                    throw bad(vdev);
                }
                return disk < 2 ? (3 << 8) | (disk << 6) | part : (22 << 8) | ((disk - 2) << 6) | part;
            default:
                if (disk > 15 || part > 15) {
                    throw bad(vdev);
                }
                return (8 << 8) | (disk << 4) | part;
        }
    }

    private static int xvd(int disk, int part, String vdev) {
        if (disk <= 15 && part <= 15) {
            return (XVD_MAJOR << 8) | (disk << 4) | part;
        }
        if (disk < (1 << 20) && part < 256) {
            return (1 << 28) | (disk << 8) | part;
        }
        throw bad(vdev);
    }

    /** A readable name for a device id: {@code xvdb} for 51728, {@code xvdb1} for 51729, else the number. */
    public static String name(int devid) {
        if ((devid >>> 8) == XVD_MAJOR) {
            return xvdName((devid >>> 4) & 0xF) + part(devid & 0xF);
        }
        if ((devid & (1 << 28)) != 0 && devid > 0) {
            return xvdName((devid >>> 8) & 0xFFFFF) + part(devid & 0xFF);
        }
        return Integer.toString(devid);
    }

    private static String part(int p) {
        return p == 0 ? "" : Integer.toString(p);
    }

    /** "xvd" + letters for a whole-disk index (0 = xvda). */
    public static String xvdName(int disk) {
        StringBuilder sb = new StringBuilder();
        int d = disk + 1;
        while (d > 0) {
            d--;
            sb.insert(0, (char) ('a' + d % 26));
            d /= 26;
        }
        return "xvd" + sb;
    }

    private static IllegalArgumentException bad(String vdev) {
        return new IllegalArgumentException("'" + vdev + "' is not a virtual device name: use xvdb, xvdc, ... "
                + "(or hdX, sdX, dDpP, or a device number)");
    }
}
