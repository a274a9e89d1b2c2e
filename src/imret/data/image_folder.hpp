#pragma once
// Image-folder datasets (the MIT_split layout) and choosing a reader by path.
//
//   root/<split>/<class>/<image>.{jpg,jpeg,png,bmp}
//
// Images are decoded by decode_image_rgb (image_folder_cv.cpp): JPEG and PNG
// with libjpeg/libpng when built with them, other formats with OpenCV; a
// build without OpenCV throws imret::Error ("built without OpenCV") when one
// is opened.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "imret/data/dataset.hpp"
#include "imret/data/image_header.hpp"
#include "imret/data/idx.hpp"  // open_dataset also opens IDX folders (kDefaultFashionMnist)

namespace imret::data {

// The items of root/<split>: one class per subfolder, classes sorted by name
// (byte order), images sorted by file name within a class. Extensions are
// matched case-insensitively; hidden files and folders (".name") are ignored;
// other files are skipped with one spdlog warning per class (count + names).
// `classes`, when not empty, imposes the class list (e.g. the test split takes
// the train split's list so labels agree): every class folder of the split
// must be in it, and classes with no folder in this split are allowed.
// Items are 3 x H x W RGB (grey images are expanded to 3 channels).
// load() throws BadImageError (with the path) for an unreadable/corrupt file.
// Throws imret::Error when root or root/<split> is missing (listing the splits
// that exist), when the split has no class folders, when a class folder holds
// no image, or when a class is not in the imposed list.
std::shared_ptr<Dataset> load_image_folder(const std::filesystem::path& root, const std::string& split,
                                           const std::vector<std::string>& classes = {});

// Opens `path` by its layout: a folder holding *-idx3-ubyte[.gz] files ->
// load_mnist_folder (then `classes`, if given, must equal its class list);
// a COCO folder (annotations/instances_*.json) -> load_coco (coco_dataset.hpp);
// a folder with subfolders -> load_image_folder. Throws imret::Error
// otherwise, describing both accepted layouts.
std::shared_ptr<Dataset> open_dataset(const std::filesystem::path& path, const std::string& split,
                                      const std::vector<std::string>& classes = {});

// Decodes one image file to float32 3 x H x W RGB in [0, 1], turned upright
// by its EXIF orientation (JPEG APP1, PNG eXIf), with the pixels of OpenCV's
// imdecode(IMREAD_COLOR). Throws BadImageError when the file is missing,
// unreadable, not a decodable image, damaged (a truncated or corrupt JPEG or
// PNG: any libjpeg warning, any libpng error or image-data warning), or when
// its size breaks `limits` (checked from the file's header before decoding
// where the header is known: image_header.hpp); imret::Error when imret was
// built without OpenCV. Prints nothing.
// The one-argument form uses the default ImageLimits.
at::Tensor decode_image_rgb(const std::filesystem::path& file);
at::Tensor decode_image_rgb(const std::filesystem::path& file, const ImageLimits& limits);
// The same for an encoded image in memory (an upload); `name` stands for the
// file in the errors.
at::Tensor decode_image_rgb(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits);

// True when this build can decode image files (built with OpenCV).
bool image_decoding_available();

}  // namespace imret::data
