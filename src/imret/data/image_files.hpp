#pragma once
// Image files named by a user: files as given, folders searched recursively.
#include <filesystem>
#include <string>
#include <vector>

namespace imret::data {

// Whether the file's extension is that of an image format imret decodes
// (.jpg, .jpeg, .png, .bmp, .tif, .tiff, .webp, .ppm, .pgm; any case).
bool has_image_extension(const std::filesystem::path& path);

// Each input that is a file, as given; each folder, its image files found
// recursively, sorted. UsageError naming the input when it does not exist or
// a folder holds no image; Error when a folder cannot be listed.
std::vector<std::filesystem::path> list_image_files(const std::vector<std::string>& inputs);

}  // namespace imret::data
