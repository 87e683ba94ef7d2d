# expect: forbidden
# needs: seccomp
from autotts import Controller


class Hostile(Controller):
    """Creates a host file and connects to a host socket through io_uring, whose requests
    the kernel runs on the process's behalf (no openat or connect call to filter)."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import ctypes
        import mmap
        import os
        import socket
        import struct

        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        params = ctypes.create_string_buffer(120)
        struct.pack_into("<I", params, 0, 4)
        fd = libc.syscall(425, 4, params)  # io_uring_setup
        if fd < 0:
            raise OSError(ctypes.get_errno(), "io_uring_setup")
        sq_entries, cq_entries = struct.unpack_from("<II", params, 0)
        sq = struct.unpack_from("<7I", params, 40)  # head tail mask entries flags dropped array
        cq = struct.unpack_from("<6I", params, 80)  # head tail mask entries overflow cqes
        shared = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        prot = mmap.PROT_READ | mmap.PROT_WRITE
        sq_ring = mmap.mmap(fd, sq[6] + sq_entries * 4, shared, prot, offset=0)
        cq_ring = mmap.mmap(fd, cq[5] + cq_entries * 16, shared, prot, offset=0x8000000)
        sqes = mmap.mmap(fd, sq_entries * 64, shared, prot, offset=0x10000000)
        sq_mask = struct.unpack_from("<I", sq_ring, sq[2])[0]
        cq_mask = struct.unpack_from("<I", cq_ring, cq[2])[0]
        keep = []

        def submit(opcode, target_fd, addr=0, length=0, off=0, flags=0):
            tail = struct.unpack_from("<I", sq_ring, sq[1])[0]
            index = tail & sq_mask
            struct.pack_into(
                "<BBHiQQIIQHHiQQ",
                sqes,
                index * 64,
                opcode,
                0,
                0,
                target_fd,
                off,
                addr,
                length,
                flags,
                1,
                0,
                0,
                0,
                0,
                0,
            )
            struct.pack_into("<I", sq_ring, sq[6] + index * 4, index)
            struct.pack_into("<I", sq_ring, sq[1], tail + 1)
            libc.syscall(426, fd, 1, 1, 1, None, 0)  # io_uring_enter, wait for it
            head = struct.unpack_from("<I", cq_ring, cq[0])[0]
            result = struct.unpack_from("<i", cq_ring, cq[5] + (head & cq_mask) * 16 + 8)[0]
            struct.pack_into("<I", cq_ring, cq[0], head + 1)
            return result

        path = ctypes.create_string_buffer(b"@@TARGET@@/made-by-io-uring")
        keep.append(path)
        created = submit(18, -100, ctypes.addressof(path), 0o644, 0, os.O_CREAT | os.O_WRONLY)
        sock = submit(45, socket.AF_INET, 0, 0, socket.SOCK_STREAM)
        address = ctypes.create_string_buffer(
            struct.pack("!HH4s8x", socket.AF_INET, int("@@PORT@@"), socket.inet_aton("127.0.0.1"))
        )
        address[0:2] = struct.pack("<H", socket.AF_INET)  # sa_family in host order
        keep.append(address)
        connected = submit(16, sock, ctypes.addressof(address), 0, 16) if sock >= 0 else sock
        return f"file {created} socket {sock} connect {connected}"
