{
  "targets": [
    {
      "target_name": "lmkernel",
      "sources": [
        "<!@(node -e \"const fs=require('fs');for(const d of ['native/core','native/addon'])for(const f of fs.readdirSync(d))if(f.endsWith('.cc'))console.log(d+'/'+f)\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native",
        "<!@(node scripts/torch-paths.mjs include)"
      ],
      "libraries": [
        "-L<!(node scripts/torch-paths.mjs lib)",
        "-Wl,-rpath,<!(node scripts/torch-paths.mjs lib)",
        "-ltorch", "-ltorch_cpu", "-lc10"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "_GLIBCXX_USE_CXX11_ABI=1"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter"]
    }
  ]
}
