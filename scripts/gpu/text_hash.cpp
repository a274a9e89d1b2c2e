// Prints std::hash<std::string> of a file's text: the name of the folder that
// tests/unit/detect/detector_reference.hpp gives a version of the reference script
// (<tmp>/imret_detector_reference_<hash>). Built and run by scripts/gpu/detect_check.sh.
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::ifstream in(argv[1], std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::cout << std::hash<std::string>{}(text) << "\n";
  return in.is_open() ? 0 : 1;
}
